"""Admin for the API channel, for diagnosis: the intake ledger is written by the fast path and the
Django operation and completed by the intake worker, so its rows are read-only here."""

from __future__ import annotations

from ascolto.connectors.api_channel.models import InboundIntake
from ascolto.core.admin import register_read_only

register_read_only(InboundIntake)
