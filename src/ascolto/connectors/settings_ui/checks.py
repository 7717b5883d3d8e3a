"""The "send test" of each channel: a real call to the configured server or provider, with no
database writes (the view records the outcome). Every failure comes back as the exact error."""

from __future__ import annotations

import base64
import contextlib
import http.client
import imaplib
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.utils.translation import gettext as _

from ascolto.connectors.crypto import CredentialUnreadable
from ascolto.connectors.email import imap
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.email.smtp import outbound as smtp
from ascolto.connectors.meta import services as meta_services
from ascolto.connectors.meta.models import MetaAccount
from ascolto.connectors.twilio import outbound as http_outbound
from ascolto.connectors.twilio import services as twilio_services
from ascolto.connectors.twilio.models import TwilioAccount


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


def smtp_send_test(mailbox: Mailbox, to: str) -> CheckResult:
    """Send a short test message from the mailbox's address to `to` through its SMTP server."""
    try:
        connection = smtp.connection_for(
            host=mailbox.smtp_host,
            port=mailbox.smtp_port,
            security=mailbox.smtp_security,
            user=mailbox.smtp_user,
            password=mailbox.smtp_password,
        )
    except CredentialUnreadable as exc:
        return CheckResult(False, str(exc))
    sender = (
        f"{mailbox.display_name} <{mailbox.address}>" if mailbox.display_name else mailbox.address
    )
    email = EmailMultiAlternatives(
        subject=_("Ascolto test message"),
        body=_("This message tests the mailbox's outgoing mail settings."),
        from_email=sender,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    result = smtp.send(email, connection)
    if result.ok:
        return CheckResult(True, _("Test message sent to %(to)s.") % {"to": to})
    return CheckResult(False, result.error)


def imap_login_test(mailbox: Mailbox) -> CheckResult:
    """Sign in over IMAP and count the messages of the mailbox's folder (read-only)."""
    if not mailbox.imap_host:
        return CheckResult(False, _("No IMAP host is set."))
    try:
        client = imap.connect(mailbox)
    except (imap.ImapError, CredentialUnreadable) as exc:
        return CheckResult(False, str(exc))
    try:
        folder = '"' + mailbox.imap_folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
        status, data = client.select(folder, readonly=True)
        if status != "OK":
            answer = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
            return CheckResult(
                False,
                _("The folder %(folder)s cannot be opened: %(answer)s")
                % {"folder": mailbox.imap_folder, "answer": answer},
            )
        raw = data[0]
        count = int(raw.decode("ascii") if isinstance(raw, bytes) else str(raw or 0))
    except (imaplib.IMAP4.error, OSError, ValueError) as exc:
        return CheckResult(False, f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
    return CheckResult(
        True,
        _("Signed in; the folder %(folder)s holds %(count)s messages.")
        % {"folder": mailbox.imap_folder, "count": count},
    )


def _get_json(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    """GET `url`: (status, JSON body, error). Status 0 means no HTTP answer at all."""
    timeout = http_outbound.request_timeout()
    request = urllib.request.Request(  # noqa: S310 - provider base URLs come from settings
        url, method="GET", headers={"User-Agent": http_outbound.USER_AGENT, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), _json(response.read(65536)), ""
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read(65536)), ""
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            return 0, {}, _("No answer from the provider within %(s)s s.") % {"s": f"{timeout:g}"}
        return 0, {}, _("Could not connect to the provider: %(reason)s") % {"reason": reason}


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _http_error(status: int, detail: str) -> str:
    if detail:
        return _("HTTP %(status)s from the provider: %(detail)s") % {
            "status": status,
            "detail": detail,
        }
    return _("HTTP %(status)s from the provider.") % {"status": status}


def twilio_test(account: TwilioAccount) -> CheckResult:
    """Read the account from Twilio's API with its SID and auth token."""
    try:
        token = account.auth_token
    except CredentialUnreadable as exc:
        return CheckResult(False, str(exc))
    sid = urllib.parse.quote(account.account_sid)
    basic = base64.b64encode(f"{account.account_sid}:{token}".encode()).decode("ascii")
    url = f"{twilio_services.api_base()}/2010-04-01/Accounts/{sid}.json"
    status, data, error = _get_json(url, {"Authorization": f"Basic {basic}"})
    if error:
        return CheckResult(False, error)
    if not 200 <= status < 300:
        return CheckResult(
            False, _http_error(status, twilio_services.describe_error(data) if data else "")
        )
    return CheckResult(
        True,
        _("Connected to the Twilio account %(name)s (%(status)s).")
        % {
            "name": str(data.get("friendly_name") or account.account_sid),
            "status": str(data.get("status") or "?"),
        },
    )


def meta_test(account: MetaAccount) -> CheckResult:
    """Read the phone number or page from the Graph API with the access token."""
    try:
        token = account.access_token
    except CredentialUnreadable as exc:
        return CheckResult(False, str(exc))
    url = f"{meta_services.graph_base()}/{urllib.parse.quote(account.external_id)}"
    status, data, error = _get_json(url, {"Authorization": f"Bearer {token}"})
    if error:
        return CheckResult(False, error)
    if not 200 <= status < 300:
        return CheckResult(
            False, _http_error(status, meta_services.describe_error(data) if data else "")
        )
    name = data.get("display_phone_number") or data.get("verified_name") or data.get("name")
    return CheckResult(
        True,
        _("Connected to %(name)s.") % {"name": str(name or account.external_id)},
    )
