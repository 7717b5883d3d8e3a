"""One delivery attempt: POST a signed JSON body to a webhook URL and classify the outcome.

urllib from the standard library; redirects are not followed (a POST turned into a GET by a
redirect would lose the reply, so a 3xx is a failure that names the new location).
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass

from ascolto.connectors.api_channel.signing import SIGNATURE_HEADER, signature_header

USER_AGENT = "Ascolto-Webhook/1"
# Worth retrying: the receiver is overloaded, down or asked us to come back.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    retryable: bool
    error: str = ""
    status: int | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(*, url: str, secret: str, body: bytes, key: str, timeout: float) -> AttemptResult:
    """POST `body` to `url`, signed with `secret`, with `key` as the Idempotency-Key (the same
    on every retry of one reply, so the receiver can drop a repeat)."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked when configured
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": key,
            SIGNATURE_HEADER: signature_header(secret, body),
        },
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = int(response.status)
            response.read(4096)
    except urllib.error.HTTPError as exc:
        status = exc.code
        detail = _snippet(exc)
        if 300 <= status < 400:
            location = exc.headers.get("Location", "") if exc.headers else ""
            return AttemptResult(
                ok=False,
                retryable=False,
                status=status,
                error=f"HTTP {status}: the webhook redirects to {location!r}; "
                "configure the final URL.",
            )
        return AttemptResult(
            ok=False,
            retryable=status in RETRYABLE_STATUSES,
            status=status,
            error=f"HTTP {status} from the webhook" + (f": {detail}" if detail else "."),
        )
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # urllib wraps a connect timeout in URLError; a read timeout comes as TimeoutError.
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            error = f"No answer within {timeout:g} s."
        else:
            error = f"Could not connect: {reason}."
        return AttemptResult(ok=False, retryable=True, error=error)
    if 200 <= status < 300:
        return AttemptResult(ok=True, retryable=False, status=status)
    return AttemptResult(
        ok=False,
        retryable=False,
        status=status,
        error=f"Unexpected HTTP {status} from the webhook.",
    )


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(500)
    except Exception:
        return ""
    return raw.decode("utf-8", errors="replace").strip().replace("\n", " ")[:300]
