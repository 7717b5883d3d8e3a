"""Fuzzing the survey writes and the public page: whatever a client sends, never a 500.

Each example breaks one field of a valid body (or sends random JSON); the public form gets
random fields. Derandomised, so a run is repeatable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from ascolto.surveys import services
from ascolto.surveys.models import FollowUp, Response
from tests.api.conftest import ApiClient, assert_problem
from tests.api.test_fuzz import broken_body
from tests.surveys.factories import (
    SYSTEM,
    consenting_customer,
    dispatch_pending,
    make_survey,
    sent_invitation,
)

pytestmark = pytest.mark.urls("tests.surveys.urls")

QUESTIONS = [
    {
        "key": "score",
        "type": "rating",
        "text": "Stars?",
        "scale_min": 1,
        "scale_max": 5,
        "display": "stars",
        "required": True,
        "translations": {"it": {"text": "Stelle?"}},
    },
    {
        "key": "why",
        "type": "multiple_choice",
        "text": "Why?",
        "choices": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
        "show_if": {"question": "score", "in": [1, 2]},
        "translations": {"he": {"choices": {"a": "א"}}},
    },
]

OPERATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create_survey": (
        "post",
        "surveys",
        {
            "kind": "custom",
            "name": "N",
            "touchpoint": "website",
            "title": "T",
            "translations": {"it": {"title": "Ti"}},
            "trigger": "conversation_resolved",
            "trigger_channels": ["email"],
            "sampling_rate": 0.5,
            "questions": QUESTIONS,
        },
    ),
    "update_survey": (
        "patch",
        "surveys/{survey}",
        {
            "name": "M",
            "translations": {"he": {"intro": "x"}},
            "delay_minutes": 3,
            "is_active": True,
        },
    ),
    "replace_questions": ("put", "surveys/{fresh}/questions", {"questions": QUESTIONS}),
    "update_settings": (
        "patch",
        "surveys/settings",
        {
            "suppression_days": 5,
            "followup_owner_id": None,
            "followup_rules": [{"touchpoint": "delivery", "owner": "agent", "due_hours": 4}],
        },
    ),
    "create_invitation": (
        "post",
        "surveys/{survey}/invitations",
        {
            "customer_id": "{customer}",
            "channel": "link",
            "source_key": "k",
            "send_after": "2026-01-01T10:00:00+02:00",
            "context": {"x": 1},
        },
    ),
    "bounce": ("post", "surveys/invitations/{invitation}/bounce", {"reason": "550"}),
    "edit_response": ("patch", "surveys/responses/{response}", {"answers": {"score": 3}}),
    "close_followup": (
        "post",
        "surveys/followups/{followup}/close",
        {"root_cause": "other", "action_taken": "Done", "message": "Fixed."},
    ),
}


@pytest.fixture
def ids(workspace):
    survey = make_survey(workspace, "nps")
    invitation, _ = sent_invitation(survey, consenting_customer(workspace))
    services.response_record(
        invitation=invitation, answers={"score": 1, "why": ""}, keys=["score", "why"]
    )
    dispatch_pending()
    return {
        "survey": survey.pk,
        "fresh": make_survey(workspace, "csat").pk,
        "customer": consenting_customer(workspace).pk,
        "invitation": invitation.pk,
        "response": Response.objects.get().pk,
        "followup": FollowUp.objects.get().pk,
    }


def fill(value: Any, ids: dict[str, int]) -> Any:
    text = json.dumps(value)
    for name, pk in ids.items():
        text = text.replace(f'"{{{name}}}"', str(pk))
    return json.loads(text)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_no_body_makes_a_survey_write_fail_with_500(
    admin_user, workspace, make_token, ids, operation
):
    api = ApiClient(make_token(admin_user, workspace))
    method, path, base = OPERATIONS[operation]

    @fuzz_settings(
        max_examples=25,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(body=broken_body(fill(base, ids)))
    def run(body: Any) -> None:
        try:
            payload = json.dumps(body)
        except ValueError:
            return
        response = getattr(api, method)(path.format(**ids), payload)
        assert response.status_code < 500, response.content[:300]
        if response.status_code >= 400:
            assert_problem(response, response.status_code)

    run()


form_values = st.lists(
    st.text(max_size=12) | st.sampled_from(["0", "10", "11", "-1", "a", "b", "\x00", "9" * 30]),
    max_size=3,
)


def test_no_form_makes_the_public_page_fail_with_500(workspace, settings):
    settings.ASCOLTO_SURVEYS_PAGE_HITS = 10_000
    survey = services.survey_create(
        workspace=workspace,
        actor=SYSTEM,
        kind="custom",
        name="F",
        touchpoint="product",
        title="F",
        questions=[
            services.QuestionInput(
                **{**q, "choices": q.get("choices", []), "show_if": q.get("show_if", {})}
            )
            for q in QUESTIONS
        ],
    )
    client = Client()

    @fuzz_settings(max_examples=60, derandomize=True, deadline=None, database=None)
    @given(
        fields=st.dictionaries(
            st.sampled_from(["q", "score", "why", "other", ""]), form_values, max_size=4
        ),
        score=st.integers(min_value=-5, max_value=2**40),
        lang=st.text(max_size=5),
    )
    def run(fields: dict[str, list[str]], score: int, lang: str) -> None:
        _, token = sent_invitation(survey, consenting_customer(workspace), channel="link")
        posted = client.post(f"/s/{token}/?lang={lang}", fields)
        clicked = client.get(f"/s/{token}/answer/{score}/") if score >= 0 else posted
        assert posted.status_code < 500, posted.content[:300]
        assert clicked.status_code < 500, clicked.content[:300]

    run()
