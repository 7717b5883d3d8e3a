"""Credentials are Fernet ciphertext in the database, plaintext through the model API, keyed
from SECRET_KEY, readable after a key rotation through SECRET_KEY_FALLBACKS."""

from __future__ import annotations

import pytest

from ascolto.connectors import crypto
from ascolto.connectors.twilio import services
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from tests.connectors.twilio.conftest import AUTH_TOKEN, make_account

pytestmark = pytest.mark.django_db


def stored_column(account: TwilioAccount) -> str:
    """The column as stored (the plain field under the plaintext attribute)."""
    return str(
        TwilioAccount.objects.values_list("auth_token_encrypted", flat=True).get(pk=account.pk)
    )


def test_the_auth_token_is_ciphertext_in_the_database(sms):
    raw = stored_column(sms)
    assert AUTH_TOKEN not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    assert TwilioAccount.objects.get(pk=sms.pk).auth_token == AUTH_TOKEN


def test_each_encryption_is_different_and_tampering_is_detected(sms):
    assert crypto.encrypt(AUTH_TOKEN) != crypto.encrypt(AUTH_TOKEN)
    account = TwilioAccount.objects.get(pk=sms.pk)
    account.auth_token_encrypted = account.auth_token_encrypted[:-4] + "AAAA"
    with pytest.raises(crypto.CredentialUnreadable, match="auth_token"):
        _ = account.auth_token


def test_a_rotated_secret_key_still_reads_and_rotation_rewrites(sms, settings):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = [old_key]
    before = stored_column(sms)
    assert TwilioAccount.objects.get(pk=sms.pk).auth_token == AUTH_TOKEN

    assert services.credentials_rotate() == 1
    assert stored_column(sms) != before
    settings.SECRET_KEY_FALLBACKS = []
    assert TwilioAccount.objects.get(pk=sms.pk).auth_token == AUTH_TOKEN


def test_without_the_old_key_the_error_says_what_to_do(sms, settings):
    settings.SECRET_KEY = "another-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(crypto.CredentialUnreadable, match="SECRET_KEY_FALLBACKS"):
        _ = TwilioAccount.objects.get(pk=sms.pk).auth_token


def test_the_audit_log_never_holds_the_token(sms):
    from ascolto.core.models import AuditLogEntry

    entry = AuditLogEntry.objects.get(action="twilio.account.create")
    assert AUTH_TOKEN not in str(entry.changes)


def test_bad_account_settings_are_named(workspace):
    with pytest.raises(ValidationFailed) as error:
        services.twilio_account_create(
            workspace=workspace,
            name="x",
            account_sid="XX1",
            auth_token="",
            from_number="12",
            actor=Actor.system(),
        )
    assert set(error.value.field_errors) == {"account_sid", "auth_token", "from_number"}


def test_a_whatsapp_sender_makes_a_whatsapp_inbox(workspace):
    account = make_account(workspace, "whatsapp:+39 02 1234 5679")
    assert account.inbox.channel == "whatsapp"
    assert account.from_number == "whatsapp:+390212345679"


def test_the_admin_shows_accounts_without_their_token(client, sms, django_user_model):
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(staff)
    page = client.get(f"/admin/connectors_twilio/twilioaccount/{sms.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert sms.account_sid in html
    assert AUTH_TOKEN not in html
    assert sms.auth_token_encrypted not in html


def test_a_token_no_key_decrypts_makes_the_webhook_unavailable(client, sms, settings, caplog):
    from tests.connectors.twilio.conftest import post_signed, sms_form

    settings.SECRET_KEY = "lost-the-old-key-" + "z" * 40
    settings.SECRET_KEY_FALLBACKS = []
    response = post_signed(client, f"/connectors/twilio/{sms.pk}/inbound", sms_form())
    assert response.status_code == 503
    assert "SECRET_KEY_FALLBACKS" in caplog.text
    assert AUTH_TOKEN not in caplog.text
