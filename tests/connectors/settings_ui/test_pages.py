"""Channel settings pages: who may open them, adding and changing each kind of channel with
credentials stored encrypted and never shown back, and bad input answered with its error."""

from __future__ import annotations

from typing import Any

from django.test import Client

from ascolto.connectors.api_channel.config import webhook_settings
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.meta.models import MetaAccount
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.models import AuditLogEntry
from ascolto.inbox.models import Inbox
from tests.connectors.twilio.conftest import make_account

SID = "AC" + "1" * 32


def mailbox_form(**extra: str) -> dict[str, str]:
    form = {
        "name": "Support",
        "address": "support@shop.example",
        "display_name": "Shop Support",
        "imap_enabled": "on",
        "imap_host": "imap.shop.example",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_user": "support@shop.example",
        "imap_password": "imap-secret-1",
        "imap_folder": "INBOX",
        "smtp_host": "smtp.shop.example",
        "smtp_port": "587",
        "smtp_security": "starttls",
        "smtp_user": "support@shop.example",
        "smtp_password": "smtp-secret-1",
    }
    form.update(extra)
    return form


def test_only_owners_and_admins_open_the_channel_pages(
    agent_client: Client, workspace: Any
) -> None:
    make_account(workspace, "+390212345678")
    inbox = Inbox.objects.get(workspace=workspace)
    for response in (
        agent_client.get("/settings/channels/"),
        agent_client.get("/settings/channels/new/email/"),
        agent_client.get(f"/settings/channels/{inbox.pk}/"),
        agent_client.post(f"/settings/channels/{inbox.pk}/test/"),
    ):
        assert response.status_code == 403


def test_the_list_shows_every_inbox_with_channel_and_status(
    admin_client: Client, workspace: Any, other_workspace: Any
) -> None:
    make_account(workspace, "+390212345678")
    make_account(other_workspace, "+390212345999")
    page = admin_client.get("/settings/channels/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Twilio +390212345678" in html
    assert "Twilio +390212345999" not in html  # another workspace's channel
    assert 'data-status="untested"' in html
    assert 'aria-current="page"' in html
    assert "Channels" in html


def test_adding_a_mailbox_stores_passwords_encrypted_and_never_shows_them(
    admin_client: Client, workspace: Any
) -> None:
    response = admin_client.post("/settings/channels/new/email/", mailbox_form())
    assert response.status_code == 302
    mailbox = Mailbox.objects.get(workspace=workspace)
    assert mailbox.inbox.name == "Support"
    assert mailbox.imap_enabled
    assert "imap-secret-1" not in mailbox.imap_password_encrypted
    assert mailbox.imap_password == "imap-secret-1"
    assert mailbox.smtp_password == "smtp-secret-1"

    page = admin_client.get(f"/settings/channels/{mailbox.inbox_id}/").content.decode()
    assert "imap-secret-1" not in page
    assert "smtp-secret-1" not in page
    assert mailbox.imap_password_encrypted not in page
    assert "Set. Type a new value to change it" in page
    assert 'value="imap.shop.example"' in page


def test_editing_keeps_a_blank_password_and_replaces_a_typed_one(
    admin_client: Client, workspace: Any
) -> None:
    admin_client.post("/settings/channels/new/email/", mailbox_form())
    mailbox = Mailbox.objects.get(workspace=workspace)
    response = admin_client.post(
        f"/settings/channels/{mailbox.inbox_id}/",
        mailbox_form(name="Help desk", imap_password="", smtp_password="smtp-secret-2"),
    )
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.inbox.name == "Help desk"
    assert mailbox.imap_password == "imap-secret-1"
    assert mailbox.smtp_password == "smtp-secret-2"


def test_invalid_ports_and_missing_imap_host_are_refused_with_their_errors(
    admin_client: Client, workspace: Any
) -> None:
    response = admin_client.post(
        "/settings/channels/new/email/", mailbox_form(imap_port="70000", imap_host="")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "less than or equal to 65535" in html
    assert "Required to fetch by IMAP." in html
    response = admin_client.post("/settings/channels/new/email/", mailbox_form(smtp_port="0"))
    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    assert not Mailbox.objects.filter(workspace=workspace).exists()


def test_a_second_mailbox_with_the_same_address_is_refused(
    admin_client: Client, workspace: Any
) -> None:
    admin_client.post("/settings/channels/new/email/", mailbox_form())
    response = admin_client.post("/settings/channels/new/email/", mailbox_form(name="Again"))
    assert response.status_code == 400
    assert "already has a mailbox with this address" in response.content.decode()
    assert Mailbox.objects.filter(workspace=workspace).count() == 1


def test_twilio_account_added_and_changed_keeps_its_token_secret(
    admin_client: Client, workspace: Any
) -> None:
    form = {
        "name": "SMS",
        "account_sid": SID,
        "auth_token": "tok-0123456789",
        "from_number": "+39 02 1234 5678",
    }
    assert admin_client.post("/settings/channels/new/twilio/", form).status_code == 302
    account = TwilioAccount.objects.get(workspace=workspace)
    assert account.from_number == "+390212345678"
    assert account.inbox.channel == "sms"
    assert account.auth_token == "tok-0123456789"
    page = admin_client.get(f"/settings/channels/{account.inbox_id}/").content.decode()
    assert "tok-0123456789" not in page

    response = admin_client.post(
        f"/settings/channels/{account.inbox_id}/",
        {**form, "auth_token": "", "from_number": "whatsapp:+390212345678"},
    )
    assert response.status_code == 400
    assert "add a new channel" in response.content.decode()
    response = admin_client.post(
        f"/settings/channels/{account.inbox_id}/", {**form, "auth_token": ""}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.auth_token == "tok-0123456789"
    audit = AuditLogEntry.objects.filter(workspace=workspace, action="twilio.account.update").get()
    assert "tok-0123456789" not in str(audit.changes)


def test_twilio_bad_sid_is_refused(admin_client: Client, workspace: Any) -> None:
    response = admin_client.post(
        "/settings/channels/new/twilio/",
        {"name": "SMS", "account_sid": "XX1", "auth_token": "t", "from_number": "+390212345678"},
    )
    assert response.status_code == 400
    assert "starts with AC" in response.content.decode()


def test_meta_account_added_with_required_secrets(admin_client: Client, workspace: Any) -> None:
    form = {
        "name": "WhatsApp",
        "platform": "whatsapp",
        "external_id": "1234567890",
        "app_secret": "app-s",
        "verify_token": "verify-t",
        "access_token": "access-t",
    }
    missing = admin_client.post("/settings/channels/new/meta/", {**form, "access_token": ""})
    assert missing.status_code == 400
    assert admin_client.post("/settings/channels/new/meta/", form).status_code == 302
    account = MetaAccount.objects.get(workspace=workspace)
    assert (account.app_secret, account.verify_token, account.access_token) == (
        "app-s",
        "verify-t",
        "access-t",
    )
    page = admin_client.get(f"/settings/channels/{account.inbox_id}/").content.decode()
    assert "access-t" not in page
    assert "verify-t" not in page


def test_api_channel_shows_its_secret_once_and_checks_the_url(
    admin_client: Client, workspace: Any
) -> None:
    bad = admin_client.post(
        "/settings/channels/new/api/", {"name": "Shop", "webhook_url": "ftp://x"}
    )
    assert bad.status_code == 400
    created = admin_client.post(
        "/settings/channels/new/api/", {"name": "Shop", "webhook_url": "https://shop.example/hook"}
    )
    inbox = Inbox.objects.get(workspace=workspace, channel="api")
    secret = webhook_settings(inbox.config).secret
    assert created.status_code == 200
    assert secret in created.content.decode()
    page = admin_client.get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert secret not in page
    assert "https://shop.example/hook" in page


def test_another_workspaces_channel_is_not_found(
    admin_client: Client, other_workspace: Any
) -> None:
    account = make_account(other_workspace, "+390212345999")
    assert admin_client.get(f"/settings/channels/{account.inbox_id}/").status_code == 404
    assert admin_client.post(f"/settings/channels/{account.inbox_id}/test/").status_code == 404


def test_unknown_kind_is_not_found(admin_client: Client) -> None:
    assert admin_client.get("/settings/channels/new/pigeon/").status_code == 404


def test_the_pages_speak_italian_and_hebrew_right_to_left(
    admin_client: Client, workspace: Any
) -> None:
    make_account(workspace, "+390212345678")
    hebrew = admin_client.get("/settings/channels/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    assert 'dir="rtl"' in hebrew
    assert "ערוצים" in hebrew
    assert "טרם נבדק" in hebrew
    italian = admin_client.get(
        "/settings/channels/new/email/", HTTP_ACCEPT_LANGUAGE="it"
    ).content.decode()
    assert "Scarica via IMAP" in italian
    bad = admin_client.post(
        "/settings/channels/new/email/", mailbox_form(imap_host=""), HTTP_ACCEPT_LANGUAGE="it"
    )
    assert "Necessario per scaricare via IMAP." in bad.content.decode()
