from django.apps import AppConfig


class TwilioConfig(AppConfig):
    """SMS and WhatsApp through Twilio: accounts, the signed inbound and status webhooks, and
    replies sent through Twilio's Messages API. Mount `ascolto.connectors.twilio.urls` under
    `connectors/twilio/`."""

    name = "ascolto.connectors.twilio"
    label = "connectors_twilio"
    verbose_name = "Twilio (SMS, WhatsApp)"
