"""The widget's websocket end to end: opening rules, the conversation, resync, isolation."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from ascolto.connectors.webchat import consumers, handlers, ratelimit, services
from ascolto.connectors.webchat.protocol import frame
from ascolto.connectors.webchat.push import envelope, visitor_group
from ascolto.core import realtime
from ascolto.core.actors import Actor
from ascolto.customers.models import Identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import AgentProfile, BusinessHours, Conversation, Message
from tests.connectors.webchat.conftest import AgentFeed, Widget, make_widget, signed_user

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def reply(agent, text="Ciao, come posso aiutarti?", *, note=False):
    conversation = Conversation.objects.get()
    with transaction.atomic():
        if note:
            return inbox_services.note_add(
                conversation=conversation, author=agent, text=text, actor=Actor.for_user(agent)
            )
        return inbox_services.message_send(
            conversation=conversation, author=agent, text=text, actor=Actor.for_user(agent)
        )


async def test_a_visitor_message_is_stored_and_reaches_the_agents(app, widget):
    tab = Widget(app, widget)
    welcome = await tab.open()
    assert welcome["token"]
    assert welcome["messages"] == []
    assert not welcome["visitor"]["verified"]

    async with AgentFeed(widget.workspace_id) as agents:
        ack = await tab.say("Where is my order?")
        created = await agents.next("inbox.message.created")

    stored = await database_sync_to_async(Message.objects.get)()
    assert stored.kind == "inbound"
    assert stored.text == "Where is my order?"
    assert ack["message"]["id"] == stored.pk == created["message"]["id"]
    assert ack["message"]["kind"] == "visitor"
    await tab.close()


async def test_an_agent_reply_appears_live_but_a_note_never_does(app, widget, agent):
    tab = Widget(app, widget)
    await tab.open()
    await tab.say("Hello?")

    await reply(agent, "Internal: this customer is a VIP", note=True)
    sent = await reply(agent, "Ciao!")

    pushed = await tab.receive("message")
    assert pushed["message"]["id"] == sent.pk
    assert pushed["message"]["kind"] == "agent"
    assert pushed["message"]["author"] == "Giulia"
    assert await tab.nothing()
    await tab.send({"type": "sync", "last_id": 0})
    synced = await tab.receive("sync")
    assert [m["text"] for m in synced["messages"]] == ["Hello?", "Ciao!"]
    await tab.close()


async def test_a_push_reaches_the_widget_while_the_sync_thread_is_busy(app, widget):
    """Django's one thread-sensitive thread can be busy for seconds (a sync view, a slow
    query); a reply pushed to a widget must not queue behind it."""
    tab = Widget(app, widget)
    await tab.open()
    ack = await tab.say("Hello?")
    customer_id = await database_sync_to_async(lambda: Conversation.objects.get().customer_id)()
    reply = {**ack["message"], "id": ack["message"]["id"] + 1, "kind": "agent", "text": "Ciao!"}

    busy = asyncio.ensure_future(sync_to_async(time.sleep)(3))
    try:
        await asyncio.sleep(0.1)
        await get_channel_layer().group_send(
            visitor_group(widget.pk, customer_id), envelope(frame("message", message=reply))
        )
        pushed = await tab.receive("message", timeout=1.5)
        assert not busy.done()
    finally:
        await busy
    assert pushed["message"]["text"] == "Ciao!"
    await tab.close()


# --- opening the socket ------------------------------------------------------------------------


async def test_a_page_on_another_site_cannot_open_the_widget(app, widget):
    refused, code = await Widget(app, widget, origin="https://evil.example.net").connect()
    assert not refused
    assert code == 4403
    no_origin, code = await Widget(app, widget, origin="").connect()
    assert not no_origin
    assert code == 4403


async def test_allowed_origins_and_ascolto_own_pages_can(app, widget):
    assert (await Widget(app, widget).connect())[0]
    # The demo page is served by Ascolto itself: its own host is allowed.
    assert (await Widget(app, widget, origin="http://cx.example.com").connect())[0] is False
    own = Widget(app, widget, origin="http://testserver")
    own.ws.scope["headers"] = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    assert (await own.connect())[0]


async def test_an_unknown_widget_key_is_refused(app, widget):
    connected, code = await Widget(app, widget, key="not-a-real-key-123").connect()
    assert not connected
    assert code == 4404


async def test_frames_before_hello_are_refused(app, widget):
    tab = Widget(app, widget)
    assert (await tab.connect())[0]
    await tab.send({"type": "message", "client_id": str(uuid.uuid4()), "text": "hi"})
    assert (await tab.receive("error"))["code"] == "hello_first"
    await tab.send({"type": "ping"})
    await tab.receive("pong")
    await tab.close()


async def test_malformed_and_oversized_frames_get_an_error_not_a_crash(app, widget):
    tab = Widget(app, widget)
    await tab.open()
    await tab.ws.send_to(text_data="{not json")
    assert (await tab.receive("error"))["code"] == "bad_json"
    await tab.send({"type": "unheard-of"})
    assert (await tab.receive("error"))["code"] == "unknown_type"
    await tab.send({"type": "message", "client_id": "not-a-uuid", "text": "x"})
    assert (await tab.receive("error"))["code"] == "validation_failed"
    await tab.send({"type": "message", "client_id": str(uuid.uuid4()), "text": "   "})
    assert (await tab.receive("error"))["code"] == "validation_failed"
    await tab.ws.send_to(text_data='{"type": "message", "text": "' + "x" * 20000 + '"}')
    assert (await tab.receive("error"))["code"] == "frame_too_large"
    assert await tab.closed_with() == 1009
    assert await database_sync_to_async(Message.objects.count)() == 0


# --- identity --------------------------------------------------------------------------------


async def test_a_token_of_another_workspace_widget_is_refused(app, widget, other_workspace):
    other = await database_sync_to_async(make_widget)(other_workspace)
    elsewhere = Widget(app, other)
    foreign_token = (await elsewhere.open())["token"]
    await elsewhere.say("private words")

    tab = Widget(app, widget)
    assert (await tab.connect())[0]
    await tab.send({"type": "hello", "token": foreign_token})
    assert (await tab.receive("error"))["code"] == "invalid_token"
    assert await tab.closed_with() == 4401


async def test_a_wrong_identity_hash_is_refused(app, widget):
    tab = Widget(app, widget)
    assert (await tab.connect())[0]
    user = signed_user(widget, "user-42")
    user["id"] = "user-43"  # someone else's id with user-42's hash
    await tab.send({"type": "hello", "user": user})
    assert (await tab.receive("error"))["code"] == "identity_rejected"
    assert await tab.closed_with() == 4403


async def test_a_verified_user_finds_their_history_on_another_device(app, widget):
    laptop = Widget(app, widget)
    welcome = await laptop.open(user=signed_user(widget, "user-42", name="Noa Levi"))
    assert welcome["visitor"]["verified"]
    await laptop.say("Sent from my laptop")

    phone = Widget(app, widget, ip="10.0.0.2")  # no token: a new browser
    history = await phone.open(user=signed_user(widget, "user-42"))
    assert [m["text"] for m in history["messages"]] == ["Sent from my laptop"]
    assert history["visitor"]["name"] == "Noa Levi"

    stranger = Widget(app, widget, ip="10.0.0.3")
    assert (await stranger.open())["messages"] == []


async def test_visitors_cannot_reach_each_others_conversations(app, widget, agent):
    alice, bob = Widget(app, widget), Widget(app, widget, ip="10.0.0.2")
    await alice.open()
    said = await alice.say("Alice's secret", client_id=str(uuid.uuid4()))
    await bob.open()
    # Bob replays Alice's message id and asks for everything since id 0: he gets only his own.
    await bob.send({"type": "message", "client_id": said["client_id"], "text": "Bob's words"})
    bobs = await bob.receive("ack")
    assert bobs["message"]["id"] != said["message"]["id"]
    await bob.send({"type": "sync", "last_id": 0})
    assert [m["text"] for m in (await bob.receive("sync"))["messages"]] == ["Bob's words"]

    alice_conversation = await database_sync_to_async(Conversation.objects.get)(
        pk=said["message"]["conversation_id"]
    )
    await database_sync_to_async(_reply_in)(alice_conversation, agent, "Only for Alice")
    assert (await alice.receive("message"))["message"]["text"] == "Only for Alice"
    assert await bob.nothing()


def _reply_in(conversation, agent, text):
    with transaction.atomic():
        return inbox_services.message_send(
            conversation=conversation, author=agent, text=text, actor=Actor.for_user(agent)
        )


# --- reconnect and resend ----------------------------------------------------------------------


async def test_a_resend_after_reconnect_is_stored_once(app, widget):
    tab = Widget(app, widget)
    token = (await tab.open())["token"]
    client_id = str(uuid.uuid4())
    first = await tab.say("Are you there?", client_id=client_id)
    await tab.close()

    again = Widget(app, widget)
    await again.open(token=token, last_id=first["message"]["id"])
    second = await again.say("Are you there?", client_id=client_id)

    assert second["message"]["id"] == first["message"]["id"]
    assert await database_sync_to_async(Message.objects.count)() == 1


async def test_reconnecting_resyncs_what_was_missed(app, widget, agent):
    tab = Widget(app, widget)
    token = (await tab.open())["token"]
    last = (await tab.say("Hello"))["message"]["id"]
    await tab.close()
    await reply(agent, "Sorry for the wait")  # while the visitor's socket is down
    await reply(agent, "Still there?")

    back = Widget(app, widget)
    welcome = await back.open(token=token, last_id=last)
    assert [m["text"] for m in welcome["messages"]] == ["Sorry for the wait", "Still there?"]


async def test_a_returning_visitor_sees_the_history(app, widget, agent):
    tab = Widget(app, widget)
    token = (await tab.open())["token"]
    await tab.say("First visit")
    await reply(agent, "Welcome!")
    await tab.close()

    returning = Widget(app, widget)
    welcome = await returning.open(token=token)
    assert [(m["kind"], m["text"]) for m in welcome["messages"]] == [
        ("visitor", "First visit"),
        ("agent", "Welcome!"),
    ]
    assert welcome["token"]


async def test_other_tabs_of_the_visitor_see_the_message(app, widget):
    first = Widget(app, widget)
    token = (await first.open())["token"]
    await first.say("hello")  # creates the customer: the second tab joins the same visitor
    second = Widget(app, widget)
    await second.open(token=token)
    said = await first.say("from tab one")
    echoed = await second.receive("message")
    assert echoed["message"]["id"] == said["message"]["id"]
    assert await first.nothing()


async def test_pushes_batched_for_the_visitors_group_reach_the_tab_in_order(app, widget):
    """The server loop's sender merges pushes waiting for one group (core.realtime.batched)."""
    tab = Widget(app, widget)
    await tab.open()
    await tab.say("hello")
    customer_id = (await database_sync_to_async(Conversation.objects.get)()).customer_id
    pushes = [
        envelope(frame("typing", typing=True, author="Giulia")),
        envelope(frame("typing", typing=False, author="Giulia")),
    ]
    [(group, batch)] = realtime.batched(
        [(visitor_group(widget.pk, customer_id), p) for p in pushes]
    )
    await get_channel_layer().group_send(group, batch)
    assert [(await tab.receive("typing"))["typing"] for _ in pushes] == [True, False]


async def test_a_tab_does_not_get_again_a_message_its_welcome_showed(app, widget):
    """Tab one's push of its message can still be on its way when a new tab reads the history:
    the new tab shows the message once, from the welcome, and the late push is dropped."""
    first = Widget(app, widget)
    token = (await first.open())["token"]
    hello = (await first.say("hello"))["message"]
    second = Widget(app, widget)
    welcome = await second.open(token=token)
    assert [m["id"] for m in welcome["messages"]] == [hello["id"]]
    group = visitor_group(
        widget.pk, (await database_sync_to_async(Conversation.objects.get)()).customer_id
    )
    late = envelope(frame("message", message=hello), skip_channel="another-tab")
    await get_channel_layer().group_send(group, late)
    assert await second.nothing()
    said = await first.say("and then")
    assert (await second.receive("message"))["message"]["id"] == said["message"]["id"]


# --- typing, read, end -------------------------------------------------------------------------


async def test_typing_goes_both_ways(app, widget, agent):
    tab = Widget(app, widget)
    await tab.open()
    said = await tab.say("hi")
    async with AgentFeed(widget.workspace_id) as agents:
        await tab.send({"type": "typing", "typing": True})
        typing = await agents.next("webchat.visitor.typing")
    assert typing == {"conversation_id": said["message"]["conversation_id"], "typing": True}

    conversation = await database_sync_to_async(Conversation.objects.get)()
    await database_sync_to_async(services.agent_typing)(
        conversation=conversation, user=agent, typing=True
    )
    assert await tab.receive("typing") == {"type": "typing", "typing": True, "author": "Giulia"}


async def test_reading_marks_the_reply_read(app, widget, agent):
    tab = Widget(app, widget)
    await tab.open()
    await tab.say("hi")
    sent = await reply(agent, "hello")
    pushed = await tab.receive("message")
    await tab.send({"type": "read", "last_id": pushed["message"]["id"]})
    await tab.send({"type": "ping"})
    await tab.receive("pong")
    await database_sync_to_async(sent.refresh_from_db)()
    assert sent.delivery_status == "read"


async def test_resolving_the_conversation_ends_the_chat(app, widget, agent):
    tab = Widget(app, widget)
    await tab.open()
    said = await tab.say("thanks, bye")

    @database_sync_to_async
    def resolve():
        with transaction.atomic():
            inbox_services.conversation_set_status(
                conversation=Conversation.objects.get(),
                status="resolved",
                actor=Actor.for_user(agent),
            )

    await resolve()
    ended = await tab.receive("ended")
    assert ended == {
        "type": "ended",
        "conversation_id": said["message"]["conversation_id"],
        "survey_url": "",
    }


# --- offline mode ------------------------------------------------------------------------------


async def test_nobody_online_asks_for_an_email_and_says_when_we_are_back(app, widget):
    await database_sync_to_async(BusinessHours.objects.create)(
        workspace=widget.workspace,
        name="Office",
        timezone="Europe/Rome",
        schedule={day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    )
    tab = Widget(app, widget)
    welcome = await tab.open()
    assert welcome["online"] is False
    assert welcome["reply"]["open_now"] or welcome["reply"]["next_open_at"]

    await tab.send({"type": "email", "email": "Noa@Example.com"})
    assert (await tab.receive("email_saved"))["email"] == "noa@example.com"
    assert await database_sync_to_async(
        Identity.objects.filter(kind="email", value="noa@example.com").exists
    )()
    await tab.send({"type": "email", "email": "not an email"})
    assert (await tab.receive("error"))["code"] == "validation_failed"


async def test_an_online_agent_makes_the_widget_online(app, widget, agent):
    await database_sync_to_async(AgentProfile.objects.create)(
        workspace=widget.workspace, user=agent, availability="online"
    )
    assert (await Widget(app, widget).open())["online"] is True


# --- rate limits -------------------------------------------------------------------------------


async def test_too_many_messages_on_one_connection_are_refused(app, widget):
    tab = Widget(app, widget)
    await tab.open()
    for n in range(5):
        await tab.say(f"message {n}")
    client_id = str(uuid.uuid4())
    await tab.send({"type": "message", "client_id": client_id, "text": "one too many"})
    error = await tab.receive("error")
    assert error["code"] == "rate_limited"
    assert error["client_id"] == client_id
    assert await database_sync_to_async(Message.objects.count)() == 5


async def test_one_ip_opening_too_many_sockets_is_refused(app, widget, settings):
    settings.ASCOLTO_WEBCHAT_CONNECTS_PER_MINUTE = 2
    assert (await Widget(app, widget, ip="192.0.2.7").connect())[0]
    assert (await Widget(app, widget, ip="192.0.2.7").connect())[0]
    connected, code = await Widget(app, widget, ip="192.0.2.7").connect()
    assert not connected
    assert code == 4429
    assert (await Widget(app, widget, ip="192.0.2.8").connect())[0]


async def test_flooding_frames_closes_the_socket(app, widget):
    tab = Widget(app, widget)
    await tab.open()
    for _ in range(40):
        await tab.send({"type": "ping"})
    assert await tab.closed_with() == 4429


async def test_one_ip_sending_too_many_messages_is_slowed_down(app, widget, settings, monkeypatch):
    settings.ASCOLTO_WEBCHAT_MESSAGES_PER_MINUTE = 2
    # All three messages fall in one minute's window, whenever the test runs.
    monkeypatch.setattr(ratelimit, "_clock", lambda: 1_800_000_030.0)
    first, second = Widget(app, widget, ip="192.0.2.9"), Widget(app, widget, ip="192.0.2.9")
    await first.open()
    await second.open()
    await first.say("one")
    await second.say("two")
    await first.send({"type": "message", "client_id": str(uuid.uuid4()), "text": "three"})
    assert (await first.receive("error"))["code"] == "rate_limited"
    await Widget(app, widget, ip="192.0.2.10").open()


async def test_a_silent_socket_is_closed(app, widget, monkeypatch):
    monkeypatch.setattr(consumers, "HELLO_TIMEOUT", 0.2)
    tab = Widget(app, widget)
    assert (await tab.connect())[0]
    assert await tab.closed_with() == 4408


# --- workspaces --------------------------------------------------------------------------------


async def test_the_same_user_id_in_two_workspaces_is_two_people(app, widget, other_workspace):
    other = await database_sync_to_async(make_widget)(other_workspace)
    here = Widget(app, widget)
    await here.open(user=signed_user(widget, "42"))
    await here.say("in the first shop")

    there = Widget(app, other)
    welcome = await there.open(user=signed_user(other, "42"))
    assert welcome["messages"] == []
    # The first shop's signature does not open the second shop's widget.
    forged = Widget(app, other, ip="10.0.0.9")
    assert (await forged.connect())[0]
    await forged.send({"type": "hello", "user": signed_user(widget, "42")})
    assert (await forged.receive("error"))["code"] == "identity_rejected"


async def test_the_end_of_a_chat_hands_off_to_the_survey(app, widget, agent):
    handlers.set_survey_link(lambda conversation: f"https://cx.example.com/s/{conversation.pk}")
    try:
        tab = Widget(app, widget)
        await tab.open()
        said = await tab.say("bye")

        @database_sync_to_async
        def close():
            with transaction.atomic():
                inbox_services.conversation_set_status(
                    conversation=Conversation.objects.get(),
                    status="closed",
                    actor=Actor.for_user(agent),
                )

        await close()
        ended = await tab.receive("ended")
        conversation_id = said["message"]["conversation_id"]
        assert ended["survey_url"] == f"https://cx.example.com/s/{conversation_id}"
    finally:
        handlers.set_survey_link(None)
