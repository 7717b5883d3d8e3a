"""Admin for channel settings, for diagnosis: they are edited on the channel settings pages."""

from __future__ import annotations

from ascolto.connectors.settings_ui.models import (
    AutoReplySent,
    AutoReplySettings,
    ChannelCheck,
)
from ascolto.core.admin import register_read_only

register_read_only(ChannelCheck, AutoReplySettings, AutoReplySent)
