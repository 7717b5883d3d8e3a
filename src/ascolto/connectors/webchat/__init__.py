"""The web chat widget: one `<script>` tag on any website opens a chat over a websocket.

- identity.py — signed visitor tokens and HMAC identity verification of host-site users.
- config.py — the widget settings kept in the webchat Inbox's `config` JSON.
- selectors.py / services.py — reads and writes for visitors (history, messages, uploads).
- consumers.py — the `ws/widget/` websocket (protocol in its docstring); routing.py mounts it.
- handlers.py — outbox handlers that deliver agent replies and the end of a chat.
- views.py / urls.py — `/widget.js`, `/widget/config`, `/widget/upload`, files, demo page.
"""
