"""Web chat services and selectors against the database."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from ascolto.connectors.webchat import selectors, services
from ascolto.connectors.webchat.config import widget_settings
from ascolto.connectors.webchat.identity import IdentityRejected, InvalidToken, user_hash
from ascolto.connectors.webchat.protocol import ProtocolError, visitor_message
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import AuditLogEntry
from ascolto.customers.models import Activity, Identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import AgentProfile, BusinessHours, Message
from tests.accounts.factories import TeamFactory
from tests.connectors.webchat.conftest import make_widget, secret_of
from tests.customers.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def visitor(inbox, **kwargs):
    return services.visitor_session_start(inbox=inbox, **kwargs)[0]


def say(inbox, session, text="hello", client_id=None):
    return services.visitor_message_send(
        inbox=inbox, session=session, client_id=client_id or str(uuid.uuid4()), text=text
    )


# --- setting up -------------------------------------------------------------------------------


def test_a_new_widget_gets_a_key_and_a_secret_and_the_audit_log_never_shows_the_secret(widget):
    settings = widget_settings(widget.config)
    assert len(settings.key) >= 20
    assert len(settings.secret) == 64
    assert settings.allowed_origins == ("https://shop.example.com",)
    entry = AuditLogEntry.objects.get(action="webchat.configure")
    assert settings.secret not in str(entry.changes)
    assert entry.changes["key"] == settings.key


def test_bad_settings_are_refused_and_nothing_is_written(widget, actor):
    before = dict(widget.config)
    with pytest.raises(ValidationFailed) as error:
        services.widget_configure(
            inbox=widget,
            actor=actor,
            allowed_origins=["https://ok.example.com", "not a url"],
            color="red",
        )
    assert set(error.value.field_errors) == {"allowed_origins", "color"}
    widget.refresh_from_db()
    assert widget.config == before


def test_rotating_the_secret_keeps_the_key(widget, actor):
    old = widget_settings(widget.config)
    secret = services.widget_rotate_secret(inbox=widget, actor=actor)
    widget.refresh_from_db()
    new = widget_settings(widget.config)
    assert new.key == old.key
    assert new.secret == secret != old.secret


def test_a_widget_can_require_signed_in_users(workspace):
    inbox = make_widget(workspace, identity_required=True)
    with pytest.raises(IdentityRejected):
        visitor(inbox)
    secret = secret_of(inbox)
    assert visitor(inbox, user_id="7", user_hash=user_hash(secret, "7")).user_id == "7"


# --- sessions --------------------------------------------------------------------------------


def test_a_token_resumes_the_same_visitor(widget):
    session, token = services.visitor_session_start(inbox=widget)
    assert visitor(widget, token=token) == session
    with pytest.raises(InvalidToken):
        visitor(widget, token=token + "x")


def test_signing_in_on_a_browser_starts_a_new_visitor_for_that_user(widget):
    anonymous, token = services.visitor_session_start(inbox=widget)
    signed = visitor(
        widget, token=token, user_id="42", user_hash=user_hash(secret_of(widget), "42")
    )
    assert signed.user_id == "42"
    assert signed.visitor_id != anonymous.visitor_id


# --- messages --------------------------------------------------------------------------------


def test_an_anonymous_visitor_becomes_a_customer_with_a_web_identity(widget):
    session = visitor(widget, token="")
    assert selectors.visitor_customer(session) is None
    result = say(widget, session, "Dov'è il mio ordine?")
    customer = result.conversation.customer
    assert result.conversation.inbox == widget
    assert result.conversation.channel == "webchat"
    assert Identity.objects.get(customer=customer).kind == "web"
    assert selectors.visitor_customer(session) == customer


def test_the_same_client_id_is_stored_once(widget):
    session = visitor(widget)
    client_id = str(uuid.uuid4())
    first = say(widget, session, "hi", client_id)
    again = say(widget, session, "hi", client_id)
    assert again.duplicate
    assert again.message.pk == first.message.pk
    assert Message.objects.count() == 1


def test_another_visitor_reusing_a_client_id_gets_a_message_of_their_own(widget):
    alice, bob = visitor(widget), visitor(widget)
    client_id = str(uuid.uuid4())
    said = say(widget, alice, "Alice", client_id)
    replayed = say(widget, bob, "Bob", client_id)
    assert not replayed.duplicate
    assert replayed.message.pk != said.message.pk
    assert replayed.conversation.customer != said.conversation.customer


@pytest.mark.parametrize("text", ["", "   ", "x" * 5001])
def test_empty_or_too_long_messages_are_refused(widget, text):
    with pytest.raises(ValidationFailed):
        say(widget, visitor(widget), text)
    assert Message.objects.count() == 0


def test_markup_from_a_visitor_stays_text(widget):
    result = say(widget, visitor(widget), '<img src=x onerror="alert(1)"><script>x()</script>')
    assert result.message.html == ""
    payload = visitor_message(result.message)
    assert payload["text"] == '<img src=x onerror="alert(1)"><script>x()</script>'
    assert "html" not in payload


def test_agent_html_reaches_the_visitor_as_plain_text(widget, agent, actor):
    result = say(widget, visitor(widget))
    sent = inbox_services.message_send(
        conversation=result.conversation,
        author=agent,
        actor=actor,
        html='<p>Ciao <a href="javascript:alert(1)">qui</a></p><script>steal()</script>',
    )
    payload = visitor_message(sent)
    assert "<" not in payload["text"]
    assert "steal" not in payload["text"]
    assert payload["text"].startswith("Ciao")


def test_a_verified_user_is_the_customer_with_their_external_id(widget):
    known = CustomerFactory(workspace=widget.workspace, external_id="CRM-9")
    secret = secret_of(widget)
    session = visitor(widget, user_id="CRM-9", user_hash=user_hash(secret, "CRM-9"))
    assert say(widget, session).conversation.customer == known


def test_a_new_verified_user_keeps_their_email_only_if_nobody_has_it(widget):
    IdentityFactory(customer=CustomerFactory(workspace=widget.workspace), value="taken@x.it")
    secret = secret_of(widget)
    first = visitor(widget, user_id="u1", user_hash=user_hash(secret, "u1"))
    customer = services.visitor_customer_ensure(session=first, email="mine@x.it", name="Noa")
    assert customer.external_id == "u1"
    assert customer.name == "Noa"
    assert list(customer.identities.values_list("value", "verified")) == [("mine@x.it", False)]
    second = visitor(widget, user_id="u2", user_hash=user_hash(secret, "u2"))
    other = services.visitor_customer_ensure(session=second, email="taken@x.it")
    assert not other.identities.exists()


def test_a_visitor_sees_only_their_own_conversations_in_this_inbox(widget, workspace, agent, actor):
    session = visitor(widget)
    mine = say(widget, session, "mine")
    inbox_services.note_add(conversation=mine.conversation, author=agent, actor=actor, text="n")
    inbox_services.message_send(conversation=mine.conversation, author=agent, actor=actor, text="r")
    say(widget, visitor(widget), "someone else's")
    email_inbox = make_widget(workspace)
    email_inbox.channel = "email"
    email_inbox.save()
    inbox_services.message_receive(
        inbox=email_inbox, customer=mine.conversation.customer, text="by email"
    )

    messages, has_more = selectors.visitor_messages(
        inbox=widget, customer=selectors.visitor_customer(session)
    )
    assert [m.text for m in messages] == ["mine", "r"]
    assert not has_more
    with pytest.raises(ProtocolError):
        visitor_message(Message.objects.get(kind="note"))


def test_history_is_the_latest_fifty_and_sync_pages(widget):
    session = visitor(widget)
    ids = [say(widget, session, f"m{n}").message.pk for n in range(55)]
    customer = selectors.visitor_customer(session)
    history, older = selectors.visitor_messages(inbox=widget, customer=customer)
    assert [m.pk for m in history] == ids[5:]
    assert older
    since, more = selectors.visitor_messages(inbox=widget, customer=customer, after_id=ids[52])
    assert [m.pk for m in since] == ids[53:]
    assert not more


# --- offline, reading, files -----------------------------------------------------------------


def test_an_offline_visitor_leaves_an_email(widget):
    session = visitor(widget)
    say(widget, session, "Anyone?")
    customer, linked = services.visitor_email_capture(
        inbox=widget, session=session, email=" Noa@Example.com "
    )
    assert linked
    assert customer.identities.filter(kind="email", value="noa@example.com").exists()
    note = Activity.objects.get(customer=customer, kind="note")
    assert "noa@example.com" in note.title
    assert note.data["linked"] is True


def test_an_email_of_another_customer_is_never_linked_to_the_visitor(widget, agent, actor):
    owner = CustomerFactory(workspace=widget.workspace)
    IdentityFactory(customer=owner, value="giulia@example.it")
    private = inbox_services.message_receive(inbox=widget, customer=owner, text="owner's chat")
    inbox_services.message_send(
        conversation=private.conversation, author=agent, actor=actor, text="owner's reply"
    )

    session = visitor(widget)
    customer, linked = services.visitor_email_capture(
        inbox=widget, session=session, email="giulia@example.it"
    )
    assert not linked
    assert customer != owner
    assert selectors.visitor_messages(inbox=widget, customer=customer) == ([], False)
    assert Activity.objects.get(customer=customer, kind="note").data["linked"] is False


def test_an_invalid_email_is_refused(widget):
    with pytest.raises(ValidationFailed):
        services.visitor_email_capture(inbox=widget, session=visitor(widget), email="nope")


def test_reading_marks_sent_replies_read(widget, agent, actor):
    session = visitor(widget)
    conversation = say(widget, session).conversation
    reply = inbox_services.message_send(
        conversation=conversation, author=agent, actor=actor, text="hi"
    )
    services.reply_sent(message=reply)
    assert services.visitor_mark_read(inbox=widget, session=session, up_to=reply.pk) == 1
    reply.refresh_from_db()
    assert reply.delivery_status == "read"
    stranger = visitor(widget)
    assert services.visitor_mark_read(inbox=widget, session=stranger, up_to=reply.pk) == 0


def test_a_file_is_stored_as_a_message_with_its_attachment(widget):
    result = services.visitor_upload(
        inbox=widget,
        session=visitor(widget),
        client_id=str(uuid.uuid4()),
        filename="scontrino.png",
        content_type="image/png",
        content=PNG,
    )
    attachment = result.message.attachments.get()
    assert attachment.filename == "scontrino.png"
    assert attachment.size == len(PNG)
    payload = visitor_message(result.message)
    assert payload["attachments"][0]["url"].startswith("/widget/file/")


@pytest.mark.parametrize(
    ("content", "claimed"),
    [
        (b"MZ\x90\x00 windows program", "image/png"),  # lies about its type
        (b"<html><script>x()</script></html>", "text/html"),  # type not accepted
        (b"binary\x00text", "text/plain"),
        (b"", "image/png"),
    ],
)
def test_files_that_are_not_what_they_claim_are_refused(widget, content, claimed):
    with pytest.raises(ValidationFailed):
        services.visitor_upload(
            inbox=widget,
            session=visitor(widget),
            client_id=str(uuid.uuid4()),
            filename="f",
            content_type=claimed,
            content=content,
        )
    assert Message.objects.count() == 0


def test_files_over_the_limit_are_refused(widget, settings):
    settings.ASCOLTO_WEBCHAT_UPLOAD_MAX_BYTES = 32
    with pytest.raises(ValidationFailed, match="at most"):
        services.visitor_upload(
            inbox=widget,
            session=visitor(widget),
            client_id=str(uuid.uuid4()),
            filename="big.png",
            content_type="image/png",
            content=PNG,
        )


# --- availability ------------------------------------------------------------------------------


def test_agents_online_counts_only_the_inbox_team(widget, agent):
    assert not selectors.agents_online(widget)
    AgentProfile.objects.create(workspace=widget.workspace, user=agent, availability="online")
    assert selectors.agents_online(widget)
    widget.team = TeamFactory(workspace=widget.workspace)
    widget.save()
    assert not selectors.agents_online(widget)
    widget.team.members.add(agent)
    assert selectors.agents_online(widget)


ROME = dt.timezone(dt.timedelta(hours=1))  # February: Rome is UTC+1


@pytest.mark.parametrize(
    ("now", "open_now", "next_open"),
    [
        (dt.datetime(2026, 2, 3, 10, 0, tzinfo=ROME), True, None),  # Tuesday morning
        (dt.datetime(2026, 2, 3, 19, 0, tzinfo=ROME), False, dt.datetime(2026, 2, 4, 9, 0)),
        (dt.datetime(2026, 2, 6, 19, 0, tzinfo=ROME), False, dt.datetime(2026, 2, 10, 9, 0)),
    ],
    ids=["open", "evening", "friday evening before a holiday monday"],
)
def test_when_the_team_is_back(widget, now, open_now, next_open):
    BusinessHours.objects.create(
        workspace=widget.workspace,
        name="Office",
        timezone="Europe/Rome",
        schedule={d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        holidays=["2026-02-09"],
    )
    expected = next_open.replace(tzinfo=ROME) if next_open else None
    assert selectors.reply_expectation(widget, now) == selectors.ReplyExpectation(
        open_now, expected
    )


def test_no_business_hours_means_no_promise(widget):
    assert selectors.reply_expectation(widget).as_dict() == {
        "open_now": False,
        "next_open_at": None,
    }


def test_sniffing_accepts_real_files():
    assert services.sniff_type(PNG, "image/png") == "image/png"
    assert services.sniff_type(b"%PDF-1.7 ...", "application/pdf; x=1") == "application/pdf"
    assert services.sniff_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp") == "image/webp"
    assert services.sniff_type("ciao שלום".encode(), "text/plain") == "text/plain"
