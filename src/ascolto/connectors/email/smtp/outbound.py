"""One SMTP attempt for a reply: build the MIME message and hand it to Django's backend.

No database writes here: the job records the outcome through `services`. A refused recipient
or another 5xx answer is permanent; a timeout, a dropped connection or a 4xx answer is
retried.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    retryable: bool = False
    error: str = ""


def connection_for(
    *,
    host: str,
    port: int,
    security: str,
    user: str,
    password: str,
) -> BaseEmailBackend:
    """The mailbox's own SMTP server when it names one, else the site's EMAIL_* backend."""
    timeout = int(getattr(settings, "EMAIL_TIMEOUT", 20) or 20)
    if not host:
        return get_connection(fail_silently=False, timeout=timeout)
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        fail_silently=False,
        host=host,
        port=port,
        username=user or None,
        password=password or None,
        use_tls=security == "starttls",
        use_ssl=security == "ssl",
        timeout=timeout,
    )


def send(email: EmailMultiAlternatives, connection: BaseEmailBackend) -> AttemptResult:
    try:
        sent = connection.send_messages([email])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _msg in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for rcpt, (code, msg) in exc.recipients.items()
        )
        return AttemptResult(ok=False, retryable=all(400 <= c < 500 for c in codes), error=detail)
    except smtplib.SMTPResponseException as exc:
        message = exc.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return AttemptResult(
            ok=False, retryable=exc.smtp_code < 500, error=f"{exc.smtp_code} {text}"
        )
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return AttemptResult(ok=False, retryable=True, error=f"{type(exc).__name__}: {exc}")
    if not sent:
        return AttemptResult(ok=False, retryable=True, error="The mail server took no message.")
    return AttemptResult(ok=True)
