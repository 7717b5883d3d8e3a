"""Property tests of the webhook parsers: whatever a client sends, the parsers either read it or
raise ValidationFailed (a 400 with a message), never anything else (a 500)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ascolto.connectors.meta import parse as meta_parse
from ascolto.connectors.twilio import parse as twilio_parse
from ascolto.connectors.twilio import signature
from ascolto.core.errors import ValidationFailed
from tests.connectors.meta.conftest import page_body, page_event, wa_body, wa_message

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
keys = st.sampled_from(
    [
        "object",
        "entry",
        "changes",
        "value",
        "messages",
        "statuses",
        "messaging",
        "sender",
        "id",
        "from",
        "type",
        "text",
        "body",
        "timestamp",
        "message",
        "mid",
        "reaction",
        "read",
        "delivery",
        "mids",
        "watermark",
        "location",
        "latitude",
        "image",
        "interactive",
    ]
)
shaped = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)
seeds = st.sampled_from(
    [
        wa_body(wa_message("wamid.1", "text", {"body": "x"})),
        wa_body(statuses=[{"id": "wamid.2", "status": "read"}]),
        page_body(page_event(message={"mid": "m_1", "text": "x"})),
        page_body(page_event(read={"watermark": 1})),
    ]
)


def _reads_or_refuses(body: object) -> None:
    refusal: ValidationFailed | None = None
    try:
        batch = meta_parse.parse(body)
    except ValidationFailed as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.message
        assert refusal.field_errors
    else:
        assert batch.platform in ("whatsapp", "messenger", "instagram")


@settings(max_examples=300, deadline=None)
@given(json_values | shaped)
def test_meta_parser_reads_or_refuses_any_json(body):
    _reads_or_refuses(body)


@settings(max_examples=300, deadline=None)
@given(seeds, st.lists(st.tuples(st.sampled_from(["del", "set"]), keys, json_values), max_size=4))
def test_meta_parser_survives_mutated_real_bodies(body, edits):
    import copy

    body = copy.deepcopy(body)
    node = body
    for action, key, value in edits:
        # Walk down the first list / dict path and break something on the way.
        if isinstance(node, dict):
            if action == "del":
                node.pop(key, None)
            else:
                node[key] = value
            child = next((v for v in node.values() if isinstance(v, dict | list)), None)
        else:
            child = node[0] if node else None
        if not isinstance(child, dict | list):
            break
        node = child
    _reads_or_refuses(body)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "MessageSid",
                "From",
                "Body",
                "NumMedia",
                "MediaUrl0",
                "MediaContentType0",
                "Latitude",
                "Longitude",
                "MessageStatus",
                "ErrorCode",
            ]
        ),
        st.text(max_size=30),
        max_size=8,
    )
)
def test_twilio_parsers_read_or_refuse_any_form(form):
    for reader in (twilio_parse.inbound, twilio_parse.status_update):
        refusal: ValidationFailed | None = None
        try:
            reader(form)
        except ValidationFailed as exc:
            refusal = exc
        assert refusal is None or refusal.field_errors


@pytest.mark.parametrize(
    ("signed", "received"),
    [
        (
            "https://cx.example.com:443/connectors/twilio/1/inbound",
            "https://cx.example.com/connectors/twilio/1/inbound",
        ),
        (
            "https://cx.example.com/connectors/twilio/1/inbound",
            "https://cx.example.com:443/connectors/twilio/1/inbound",
        ),
        (
            "https://cx.example.com/connectors/twilio/1/inbound?x=1",
            "https://cx.example.com/connectors/twilio/1/inbound?x=1",
        ),
    ],
)
def test_twilio_signatures_match_with_or_without_the_port(signed, received):
    params = {"Body": "ciao", "From": "+393331234567", "MessageSid": "SM1"}
    sdk_signature = RequestValidator("token").compute_signature(signed, params)
    assert signature.is_valid(
        auth_token="token", url=received, params=params.items(), signature=sdk_signature
    )
    assert not signature.is_valid(
        auth_token="other", url=received, params=params.items(), signature=sdk_signature
    )
