from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelSettingsConfig(AppConfig):
    """Mount `ascolto.connectors.settings_ui.urls` at `settings/channels/`."""

    name = "ascolto.connectors.settings_ui"
    label = "channel_settings"
    verbose_name = _("Channel settings")
