"""Signed tokens, answer validation, skip logic and pages (pure, no database)."""

from __future__ import annotations

import pytest
from django.core import signing

from ascolto.surveys import questions as q
from ascolto.surveys import tokens
from ascolto.surveys.models import Question


def test_token_round_trip_and_digest():
    token, digest = tokens.make_token(42)

    parsed = tokens.parse_token(token)

    assert parsed is not None
    assert parsed.invitation_id == 42
    assert tokens.digest_matches(parsed.nonce, [digest])
    assert not tokens.digest_matches(parsed.nonce, [tokens.nonce_digest("other")])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "x" + t,  # payload changed
        lambda t: "",
        lambda t: t * 5,  # too long
    ],
)
def test_tampered_tokens_are_refused(mangle):
    token, _ = tokens.make_token(7)

    assert tokens.parse_token(mangle(token)) is None


def test_tokens_signed_for_something_else_are_refused():
    foreign = signing.dumps({"i": 7, "n": "abc"}, salt="another.purpose")
    wrong_shape = signing.dumps({"i": "7", "n": "abc"}, salt=tokens.SALT)

    assert tokens.parse_token(foreign) is None
    assert tokens.parse_token(wrong_shape) is None


def question(**fields):
    defaults = {
        "key": "k",
        "position": 0,
        "type": "nps",
        "text": "?",
        "required": False,
        "choices": [],
        "show_if": {},
        "translations": {},
    }
    return Question(**{**defaults, **fields})


@pytest.mark.parametrize(
    ("qtype", "raw", "expected"),
    [("nps", "0", 0), ("nps", "10", 10), ("csat", 5, 5), ("ces", "7", 7), ("nps", "", None)],
)
def test_scale_answers_are_cleaned(qtype, raw, expected):
    assert q.clean_answer(question(type=qtype), raw) == expected


@pytest.mark.parametrize(
    ("qtype", "raw"),
    [("nps", "11"), ("nps", "-1"), ("csat", "0"), ("ces", "8"), ("nps", "x"), ("nps", True)],
)
def test_off_scale_answers_are_refused(qtype, raw):
    with pytest.raises(q.AnswerError):
        q.clean_answer(question(type=qtype), raw)


def test_rating_uses_its_own_scale_and_required_is_enforced():
    rating = question(type="rating", scale_min=0, scale_max=3, required=True)

    assert q.clean_answer(rating, "3") == 3
    with pytest.raises(q.AnswerError):
        q.clean_answer(rating, "4")
    with pytest.raises(q.AnswerError, match="answer this question"):
        q.clean_answer(rating, "")


def test_choices_are_checked_and_kept_in_survey_order():
    choices = [
        {"value": "price", "label": "Price"},
        {"value": "speed", "label": "Speed"},
        {"value": "staff", "label": "Staff"},
    ]
    multiple = question(type="multiple_choice", choices=choices)
    single = question(type="single_choice", choices=choices)

    assert q.clean_answer(multiple, ["staff", "price", "staff"]) == ["price", "staff"]
    assert q.clean_answer(single, "speed") == "speed"
    with pytest.raises(q.AnswerError):
        q.clean_answer(single, "other")
    with pytest.raises(q.AnswerError):
        q.clean_answer(multiple, ["price", "other"])


def test_text_answers_are_trimmed_and_bounded():
    text = question(type="text")

    assert q.clean_answer(text, "  slow  \x00") == "slow"
    with pytest.raises(q.AnswerError):
        q.clean_answer(text, "x" * (q.MAX_TEXT_ANSWER + 1))


def test_pages_stop_before_a_question_that_depends_on_the_same_page():
    score = question(key="score", position=0, type="nps", required=True)
    low = question(
        key="what_went_wrong",
        position=1,
        type="text",
        show_if={"question": "score", "in": [0, 1, 2, 3, 4, 5, 6]},
    )
    high = question(
        key="what_we_did_well",
        position=2,
        type="text",
        show_if={"question": "score", "in": [9, 10]},
    )
    more = question(key="anything_else", position=3, type="text")
    survey = [score, low, high, more]

    assert [x.key for x in q.next_page(survey, {})] == ["score"]
    assert [x.key for x in q.next_page(survey, {"score": 3})] == [
        "what_went_wrong",
        "anything_else",
    ]
    assert [x.key for x in q.next_page(survey, {"score": 10})] == [
        "what_we_did_well",
        "anything_else",
    ]
    assert [x.key for x in q.next_page(survey, {"score": 8})] == ["anything_else"]
    assert q.next_page(survey, {"score": 8, "anything_else": None}) == []


def test_skip_logic_on_multiple_choice_answers():
    follow = question(key="f", type="text", show_if={"question": "why", "in": ["price"]})

    assert q.is_visible(follow, {"why": ["speed", "price"]})
    assert not q.is_visible(follow, {"why": ["speed"]})
    assert not q.is_visible(follow, {})


def test_localized_texts_fall_back_to_the_default_language():
    nps = question(
        type="nps",
        text="Recommend us?",
        translations={"he": {"text": "תמליצו?", "low_label": "בכלל לא"}},
    )

    hebrew = q.localize(nps, "he")
    italian = q.localize(nps, "it")

    assert hebrew.text == "תמליצו?"
    assert hebrew.low_label == "בכלל לא"
    assert hebrew.points == list(range(11))
    assert italian.text == "Recommend us?"
