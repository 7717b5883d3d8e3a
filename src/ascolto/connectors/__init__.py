"""Channel connectors: one package per channel (webchat, email, sms, whatsapp, messenger, voice).

A connector turns a provider's payloads into inbox service calls and the inbox's outbound
messages back into the provider's format. It never writes inbox rows itself.
"""
