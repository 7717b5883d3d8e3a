"""Sending replies through a provider's HTTP API, shared by the Twilio and Meta connectors.

One attempt is one HTTP request (urllib, no redirects followed) classified as sent, worth
retrying (429, 5xx, timeouts, refused connections) or failed for good (other 4xx: the request
itself is wrong). `attempt_record` stores the outcome on the reply: its provider id once sent,
the next delay of the backoff schedule while retries remain, and finally the "failed" delivery
state with the last error, which the agent sees under the reply (the dead letter).

Settings: ASCOLTO_MESSAGING_RETRY_DELAYS — seconds before each retry (default 10 s, 1 min,
5 min, 30 min, 2 h: six attempts), ASCOLTO_MESSAGING_TIMEOUT — seconds per request (10).
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ascolto.core import realtime
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Message

logger = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (10, 60, 300, 1800, 7200)
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "Ascolto-Messaging/1"


def retry_delays() -> tuple[int, ...]:
    delays = getattr(settings, "ASCOLTO_MESSAGING_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
    return tuple(max(0, int(d)) for d in delays)


def max_attempts() -> int:
    return len(retry_delays()) + 1


def request_timeout() -> float:
    return float(getattr(settings, "ASCOLTO_MESSAGING_TIMEOUT", 10.0))


@dataclass(frozen=True)
class HttpResult:
    ok: bool
    retryable: bool
    status: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def post(
    *, url: str, body: bytes, headers: Mapping[str, str], describe_error: Any = None
) -> HttpResult:
    """POST `body` to `url`. `describe_error(data)` turns a provider's JSON error body into a
    sentence for the agent (None: the HTTP status alone)."""
    timeout = request_timeout()
    request = urllib.request.Request(  # noqa: S310 - provider base URLs come from settings
        url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = int(response.status)
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            data = _json(exc.read(65536))
        except Exception:
            data = {}
        detail = describe_error(data) if describe_error and data else ""
        return HttpResult(
            ok=False,
            retryable=status in RETRYABLE_STATUSES,
            status=status,
            data=data,
            error=f"HTTP {status} from the provider" + (f": {detail}" if detail else "."),
        )
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            error = f"No answer from the provider within {timeout:g} s."
        else:
            error = f"Could not connect to the provider: {reason}."
        return HttpResult(ok=False, retryable=True, error=error)
    if 200 <= status < 300:
        return HttpResult(ok=True, retryable=False, status=status, data=_json(raw))
    return HttpResult(ok=False, retryable=False, status=status, error=f"Unexpected HTTP {status}.")


@dataclass(frozen=True)
class Outcome:
    state: str  # "sent", "retry", "failed" or "skipped" (no longer queued)
    retry_in: int | None = None


def failed_key(message: Message) -> str:
    """The provider id a reply that never reached the provider is recorded under."""
    return f"ascolto:failed:{message.pk}"


def _publish(message: Message) -> None:
    realtime.publish_on_commit(
        workspace_id=message.workspace_id,
        event="inbox.message.delivery",
        payload={
            "message_id": message.pk,
            "conversation_id": message.conversation_id,
            "status": message.delivery_status,
        },
    )


def reply_fail(*, message: Message, error: str) -> None:
    """Dead-letter a queued reply: the "failed" state with `error`, shown to the agent."""
    inbox_services.message_mark_sent(message=message, provider_id=failed_key(message))
    inbox_services.message_delivery_update(
        inbox=message.inbox,
        provider_id=failed_key(message),
        status=Message.Delivery.FAILED,
        error=error,
    )


def attempt_record(
    *, message_id: int, result: HttpResult, provider_id: str | None, attempt: int
) -> Outcome:
    """Record attempt number `attempt` at sending a queued reply. Locks the reply row, so two
    attempts never record over each other; a reply no longer queued is skipped."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("inbox")
        .filter(pk=message_id, delivery_status=Message.Delivery.QUEUED)
        .first()
    )
    if message is None:
        return Outcome("skipped")
    if result.ok and provider_id:
        inbox_services.message_mark_sent(message=message, provider_id=provider_id)
        _publish(message)
        return Outcome("sent")
    delays = retry_delays()
    if not result.ok and result.retryable and attempt <= len(delays):
        logger.info("Reply %s: attempt %s failed (%s); retrying", message_id, attempt, result.error)
        return Outcome("retry", retry_in=delays[attempt - 1])
    error = result.error if not result.ok else "The provider answered without a message id."
    reply_fail(message=message, error=f"{error} (attempt {attempt} of {max_attempts()})")
    return Outcome("failed")
