"""The "send test" button: a real call to the channel's SMTP or IMAP server or provider API on
loopback; success or the exact error is shown and recorded, a failure as the last error."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.test import Client

from ascolto.connectors.email import services as email_services
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.meta import services as meta_services
from ascolto.connectors.settings_ui.models import ChannelCheck
from ascolto.core.actors import Actor
from tests.connectors.email.conftest import Dovecot, SmtpSink, mail
from tests.connectors.settings_ui.conftest import FakeApi
from tests.connectors.twilio.conftest import AUTH_TOKEN, make_account

SID = "AC" + "1" * 32


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def mailbox(workspace: Any) -> Mailbox:
    return email_services.mailbox_create(
        workspace=workspace,
        name="Support",
        address="support@shop.example",
        display_name="Shop Support",
        actor=Actor.system("test"),
    )


def _result(response: Any) -> str:
    return response.content.decode()


def test_smtp_test_sends_a_message_to_the_typed_address(
    admin_client: Client, mailbox: Mailbox, smtp: SmtpSink
) -> None:
    mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security = "127.0.0.1", smtp.port, "none"
    mailbox.save()
    response = admin_client.post(
        f"/settings/channels/{mailbox.inbox_id}/test/",
        {"what": "smtp", "to": "admin@shop.example"},
    )
    assert response.status_code == 200
    assert "Test message sent to admin@shop.example." in _result(response)
    [sent] = smtp.messages
    assert sent["To"] == "admin@shop.example"
    assert "support@shop.example" in sent["From"]
    assert sent["Auto-Submitted"] == "auto-generated"
    check = ChannelCheck.objects.get(inbox=mailbox.inbox)
    assert check.ok
    assert check.last_error == ""
    listing = admin_client.get("/settings/channels/").content.decode()
    assert 'data-status="ok"' in listing


def test_smtp_test_refused_recipient_reports_the_servers_answer(
    admin_client: Client, mailbox: Mailbox, smtp: SmtpSink
) -> None:
    smtp.refuse = "550 5.1.1 No such user"
    mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security = "127.0.0.1", smtp.port, "none"
    mailbox.save()
    response = admin_client.post(
        f"/settings/channels/{mailbox.inbox_id}/test/", {"what": "smtp", "to": "nobody@x.example"}
    )
    assert response.status_code == 502
    assert "550" in _result(response)
    assert "No such user" in _result(response)
    check = ChannelCheck.objects.get(inbox=mailbox.inbox)
    assert not check.ok
    assert "No such user" in check.last_error


def test_smtp_test_to_an_unreachable_host_reports_the_connection_error(
    admin_client: Client, mailbox: Mailbox
) -> None:
    mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security = (
        "127.0.0.1",
        closed_port(),
        "none",
    )
    mailbox.save()
    response = admin_client.post(
        f"/settings/channels/{mailbox.inbox_id}/test/", {"what": "smtp", "to": "a@b.example"}
    )
    assert response.status_code == 502
    assert "ConnectionRefusedError" in _result(response)
    listing = admin_client.get("/settings/channels/").content.decode()
    assert 'data-status="failing"' in listing
    assert "ConnectionRefusedError" in listing


def test_smtp_test_without_a_valid_address_is_a_clear_400(
    admin_client: Client, mailbox: Mailbox
) -> None:
    for form in ({"what": "smtp"}, {"what": "smtp", "to": "not an address"}):
        response = admin_client.post(f"/settings/channels/{mailbox.inbox_id}/test/", form)
        assert response.status_code == 400
        assert "address" in _result(response)
    assert not ChannelCheck.objects.filter(inbox=mailbox.inbox).exists()


def test_imap_test_signs_in_and_counts_the_folder(
    admin_client: Client, mailbox: Mailbox, dovecot: Dovecot
) -> None:
    dovecot.append(mail(message_id="<a@x>"), mail(message_id="<b@x>"))
    mailbox.imap_host, mailbox.imap_port, mailbox.imap_security = "127.0.0.1", dovecot.port, "none"
    mailbox.imap_user, mailbox.imap_password = dovecot.user, dovecot.password
    mailbox.save()
    response = admin_client.post(f"/settings/channels/{mailbox.inbox_id}/test/", {"what": "imap"})
    assert response.status_code == 200
    assert "the folder INBOX holds 2 messages" in _result(response)
    assert dovecot.seen_uids() == set()  # a test reads nothing


def test_imap_test_with_a_wrong_password_reports_the_refusal(
    admin_client: Client, mailbox: Mailbox, dovecot: Dovecot
) -> None:
    mailbox.imap_host, mailbox.imap_port, mailbox.imap_security = "127.0.0.1", dovecot.port, "none"
    mailbox.imap_user, mailbox.imap_password = dovecot.user, "wrong"
    mailbox.save()
    response = admin_client.post(f"/settings/channels/{mailbox.inbox_id}/test/", {"what": "imap"})
    assert response.status_code == 502
    assert "Cannot sign in to 127.0.0.1" in _result(response)
    assert "Cannot sign in" in ChannelCheck.objects.get(inbox=mailbox.inbox).last_error


def test_imap_test_to_an_unreachable_host(admin_client: Client, mailbox: Mailbox) -> None:
    mailbox.imap_host, mailbox.imap_port, mailbox.imap_security = (
        "127.0.0.1",
        closed_port(),
        "none",
    )
    mailbox.save()
    response = admin_client.post(f"/settings/channels/{mailbox.inbox_id}/test/", {"what": "imap"})
    assert response.status_code == 502
    assert "Connection refused" in _result(response)


def test_twilio_test_reads_the_account_with_its_credentials(
    admin_client: Client, workspace: Any, fake_api: FakeApi, settings: Any
) -> None:
    settings.ASCOLTO_TWILIO_API_BASE = fake_api.url
    account = make_account(workspace, "+390212345678")
    fake_api.answers[f"/2010-04-01/Accounts/{SID}.json"] = (
        200,
        {"sid": SID, "friendly_name": "Shop SMS", "status": "active"},
    )
    response = admin_client.post(f"/settings/channels/{account.inbox_id}/test/")
    assert response.status_code == 200
    assert "Connected to the Twilio account Shop SMS (active)." in _result(response)
    [(_path, headers)] = fake_api.requests
    import base64

    assert headers["Authorization"] == "Basic " + base64.b64encode(
        f"{SID}:{AUTH_TOKEN}".encode()
    ).decode("ascii")


def test_twilio_test_reports_the_providers_error_as_last_error(
    admin_client: Client, workspace: Any, fake_api: FakeApi, settings: Any
) -> None:
    settings.ASCOLTO_TWILIO_API_BASE = fake_api.url
    account = make_account(workspace, "+390212345678")
    fake_api.answers[f"/2010-04-01/Accounts/{SID}.json"] = (
        401,
        {"code": 20003, "message": "Authenticate"},
    )
    response = admin_client.post(f"/settings/channels/{account.inbox_id}/test/")
    assert response.status_code == 502
    expected = "HTTP 401 from the provider: Authenticate (code 20003)"
    assert expected in _result(response)
    assert ChannelCheck.objects.get(inbox=account.inbox).last_error == expected
    assert expected in admin_client.get("/settings/channels/").content.decode()


def test_twilio_test_to_an_unreachable_base_url(
    admin_client: Client, workspace: Any, settings: Any
) -> None:
    settings.ASCOLTO_TWILIO_API_BASE = f"http://127.0.0.1:{closed_port()}"
    account = make_account(workspace, "+390212345678")
    response = admin_client.post(f"/settings/channels/{account.inbox_id}/test/")
    assert response.status_code == 502
    assert "Could not connect to the provider" in _result(response)


def test_meta_test_reads_the_number_with_the_access_token(
    admin_client: Client, workspace: Any, fake_api: FakeApi, settings: Any
) -> None:
    settings.ASCOLTO_META_GRAPH_BASE = fake_api.url + "/v21.0"
    account = meta_services.meta_account_create(
        workspace=workspace,
        name="WhatsApp",
        platform="whatsapp",
        external_id="1234567890",
        app_secret="s",
        verify_token="v",
        access_token="access-token-1",
        actor=Actor.system("test"),
    )
    fake_api.answers["/v21.0/1234567890"] = (
        200,
        {"id": "1234567890", "display_phone_number": "+39 02 1234 5678"},
    )
    response = admin_client.post(f"/settings/channels/{account.inbox_id}/test/")
    assert response.status_code == 200
    assert "Connected to +39 02 1234 5678." in _result(response)
    assert fake_api.requests[0][1]["Authorization"] == "Bearer access-token-1"

    fake_api.answers["/v21.0/1234567890"] = (
        400,
        {"error": {"message": "Invalid OAuth access token.", "code": 190}},
    )
    response = admin_client.post(f"/settings/channels/{account.inbox_id}/test/")
    assert response.status_code == 502
    assert "Invalid OAuth access token. (code 190)" in _result(response)
    check = ChannelCheck.objects.get(inbox=account.inbox)
    assert not check.ok
    assert "code 190" in check.last_error
