"""The generic API channel: any system (a shop back end, a marketplace, an in-house app) sends
its customers' messages into an inbox over HTTP and receives the agents' replies on a webhook.

Inbound: `POST /api/v1/channels/api/{inbox_id}/messages` with an API token. The customer is
matched (or created) by an identity the system knows them by; `provider_id` is the system's id
of the message and makes a retried delivery a no-op (the same message id comes back, 200
instead of 201). A bulk variant takes up to 500 messages.

Outbound: an agent's reply in an API inbox is POSTed as JSON to the inbox's webhook URL, signed
with HMAC-SHA256 (see signing.py), by a background job with retries and backoff; the message's
delivery state ends `sent` or, after the last attempt, `failed` with the error. The system
reports later states (delivered, read, failed) on `POST .../delivery`.

- config.py — the webhook settings in the inbox's `config` JSON, retry schedule, timeouts.
- signing.py — signature of webhook requests, and how a receiver verifies it.
- selectors.py / services.py — reads and writes (inbox set-up, ingest, recording deliveries).
- webhook.py — the HTTP request of one delivery attempt (urllib; no redirects followed).
- handlers.py / tasks.py — the outbox handler that queues a reply, the job that delivers it.
- api.py / schemas.py — the REST operations under /api/v1/channels/api/.
"""
