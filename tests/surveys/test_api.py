"""The surveys REST API: CRUD, invitations, responses, metrics with breakdowns, CSV export,
follow-ups; permissions, problem documents and workspace isolation."""

from __future__ import annotations

import csv
import io

import pytest

from ascolto.surveys import services
from ascolto.surveys.models import FollowUp, Invitation, Response, Survey
from tests.api.conftest import ApiClient, assert_problem
from tests.surveys.factories import (
    SYSTEM,
    consenting_customer,
    dispatch_pending,
    make_survey,
    sent_invitation,
)

pytestmark = pytest.mark.urls("tests.surveys.urls")


@pytest.fixture
def admin_api(admin_user, workspace, make_token):
    return ApiClient(make_token(admin_user, workspace))


CUSTOM = {
    "kind": "custom",
    "name": "Checkout",
    "touchpoint": "website",
    "title": "How was checkout?",
    "translations": {"he": {"title": "איך היה התשלום?"}},
    "questions": [
        {
            "key": "easy",
            "type": "rating",
            "text": "How easy?",
            "scale_min": 1,
            "scale_max": 5,
            "required": True,
        },
        {
            "key": "why",
            "type": "single_choice",
            "text": "What got in the way?",
            "choices": [{"value": "price", "label": "Price"}, {"value": "form", "label": "Form"}],
            "show_if": {"question": "easy", "in": [1, 2]},
            "translations": {"it": {"text": "Cosa ha ostacolato?", "choices": {"price": "Prezzo"}}},
        },
    ],
}


def test_admins_create_surveys_and_nps_gets_its_standard_questions(admin_api):
    response = admin_api.post(
        "surveys",
        {"kind": "nps", "name": "Relationship", "touchpoint": "product", "title": "Hello"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert [q["type"] for q in body["questions"]] == ["nps", "text"]
    assert body["languages"] == ["en"]
    assert body["questions"][0]["translations"]["he"]["text"].startswith("עד כמה")


def test_custom_surveys_with_skip_logic_and_translations(admin_api):
    body = admin_api.post("surveys", CUSTOM).json()

    assert body["languages"] == ["en", "he"]
    assert body["questions"][1]["show_if"] == {"question": "easy", "in": [1, 2]}
    fetched = admin_api.get(f"surveys/{body['id']}").json()
    assert fetched["questions"][1]["translations"]["it"]["choices"] == {"price": "Prezzo"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "questions": [
                    {
                        "key": "a",
                        "type": "text",
                        "text": "?",
                        "show_if": {"question": "later", "in": ["x"]},
                    }
                ]
            },
            "questions.0.show_if",
        ),
        (
            {
                "questions": [
                    {
                        "key": "a",
                        "type": "single_choice",
                        "text": "?",
                        "choices": [{"value": "x", "label": "X"}],
                    }
                ]
            },
            "questions.0.choices",
        ),
        (
            {
                "questions": [
                    {"key": "a", "type": "text", "text": "?"},
                    {"key": "a", "type": "text", "text": "?"},
                ]
            },
            "questions.1.key",
        ),
        ({"translations": {"fr": {"title": "Bonjour"}}}, "translations.fr"),
        ({"translations": {"it": {"colour": "blu"}}}, "translations.it.colour"),
    ],
)
def test_invalid_surveys_are_refused_naming_the_field(admin_api, change, field):
    response = admin_api.post("surveys", {**CUSTOM, **change})

    body = assert_problem(response, 422, "validation_failed")
    assert field in body["errors"]
    assert not Survey.objects.exists()


def test_agents_cannot_define_surveys_and_analysts_cannot_invite(member, workspace):
    agent, analyst = member("agent"), member("analyst")
    survey = make_survey(workspace)

    assert_problem(agent.post("surveys", CUSTOM), 403)
    response = analyst.post(
        f"surveys/{survey.pk}/invitations", {"customer_id": consenting_customer(workspace).pk}
    )
    assert_problem(response, 403)
    assert analyst.get("surveys").status_code == 200


def test_patch_and_delete(admin_api, workspace):
    survey = make_survey(workspace)

    patched = admin_api.patch(f"surveys/{survey.pk}", {"is_active": False, "delay_minutes": 5})
    nulled = admin_api.patch(f"surveys/{survey.pk}", {"name": None})
    deleted = admin_api.delete(f"surveys/{survey.pk}")

    assert patched.json()["is_active"] is False
    assert patched.json()["delay_minutes"] == 5
    assert_problem(nulled, 422)
    assert deleted.status_code == 204
    assert not Survey.objects.exists()


def test_surveys_with_invitations_are_deactivated_not_deleted(admin_api, workspace):
    survey = make_survey(workspace)
    sent_invitation(survey, consenting_customer(workspace))

    assert_problem(admin_api.delete(f"surveys/{survey.pk}"), 409, "conflict")


def test_link_invitations_return_their_url_and_are_idempotent(api, workspace):
    survey = make_survey(workspace, "csat")
    customer = consenting_customer(workspace)
    body = {"customer_id": customer.pk, "channel": "link", "source_key": "ticket-81"}

    first = api.post(f"surveys/{survey.pk}/invitations", body)
    again = api.post(f"surveys/{survey.pk}/invitations", body)

    assert first.status_code == 201, first.content
    assert first.json()["status"] == "sent"
    url = first.json()["url"]
    assert "/s/" in url
    assert again.json()["id"] == first.json()["id"]
    assert api.client.get(url.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_invitations_report_why_they_were_skipped(api, workspace):
    survey = make_survey(workspace)
    no_consent = consenting_customer(workspace, consent=False)

    body = api.post(f"surveys/{survey.pk}/invitations", {"customer_id": no_consent.pk}).json()

    assert body["status"] == "skipped"
    assert body["skip_reason"] == "no_consent"
    assert body["url"] is None


def test_other_workspaces_are_invisible(api, other_api, workspace, other_workspace):
    mine = make_survey(workspace)
    theirs_customer = consenting_customer(other_workspace)
    invitation, _ = sent_invitation(mine, consenting_customer(workspace))
    services.response_record(invitation=invitation, answers={"score": 3}, keys=["score"])
    response = Response.objects.get()

    assert_problem(other_api.get(f"surveys/{mine.pk}"), 404)
    assert_problem(other_api.get(f"surveys/responses/{response.pk}"), 404)
    assert other_api.get("surveys/responses").json()["items"] == []
    assert other_api.get("surveys/metrics").json()["totals"]["responses"] == 0
    refused = api.post(f"surveys/{mine.pk}/invitations", {"customer_id": theirs_customer.pk})
    assert "customer_id" in assert_problem(refused, 404)["errors"]


def nps_answers(workspace, answers_by_channel):
    """One NPS answer per score, with the invitation channel/agent context set."""
    survey = make_survey(workspace, "nps")
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    for channel, scores in answers_by_channel.items():
        for index, score in enumerate(scores):
            invitation, _ = sent_invitation(
                survey, consenting_customer(workspace), source_key=f"{channel}-{index}"
            )
            Invitation.objects.filter(pk=invitation.pk).update(context_channel=channel)
            invitation.refresh_from_db()
            services.response_record(
                invitation=invitation, answers={"score": score}, keys=["score"]
            )
    return survey


def test_metrics_with_breakdown_by_channel(api, workspace):
    survey = nps_answers(workspace, {"email": [10, 9, 3, 8], "webchat": [0, 6]})
    sent_invitation(survey, consenting_customer(workspace), source_key="unanswered")

    body = api.get("surveys/metrics", by="channel", survey_id=survey.pk).json()

    totals = body["totals"]
    # 6 answers: 2 promoters, 1 passive, 3 detractors -> NPS = 100 * (2 - 3) / 6 = -16.67.
    assert totals["nps"]["n"] == 6
    assert totals["nps"]["score"] == pytest.approx(-16.6667, abs=1e-3)
    assert totals["nps"]["ci_low"] < totals["nps"]["score"] < totals["nps"]["ci_high"]
    # 7 invitations sent (the unanswered one has no context channel: "email", its own).
    assert totals["response_rate"]["sent"] == 7
    assert totals["response_rate"]["answered"] == 6
    groups = {g["key"]: g for g in body["groups"]}
    assert groups["email"]["nps"]["score"] == pytest.approx(25.0)
    assert groups["email"]["label"] == "Email"
    assert groups["webchat"]["nps"]["score"] == -100.0
    assert groups["webchat"]["csat"]["percent"] is None
    assert groups["email"]["response_rate"]["sent"] == 5


def test_metrics_reject_unknown_breakdowns_and_bad_periods(api):
    assert_problem(api.get("surveys/metrics", by="weather"), 422)
    bad = api.get("surveys/metrics", since="2026-02-01T00:00:00Z", until="2026-01-01T00:00:00Z")
    assert_problem(bad, 422)


def test_csv_export_has_one_row_per_response_with_context_and_answers(api, workspace):
    survey = nps_answers(workspace, {"email": [9]})
    invitation, _ = sent_invitation(
        survey, consenting_customer(workspace, name="=cmd()"), source_key="formula"
    )
    services.response_record(
        invitation=invitation, answers={"score": 2, "why": "-slow"}, keys=["score", "why"]
    )

    response = api.get(f"surveys/{survey.pk}/responses.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    assert rows[0]["nps_score"] == "9"
    assert rows[0]["q:score"] == "9"
    assert rows[0]["channel"] == "email"
    last = rows[1]
    assert last["completed"] == "true"
    assert last["q:why"] == "'-slow"
    assert last["customer_name"] == "'=cmd()"
    assert last["customer_id"] == str(invitation.customer_id)


def test_responses_are_listed_and_edited_with_audit(api, workspace):
    survey = nps_answers(workspace, {"email": [5]})
    response = Response.objects.get(survey=survey)

    listed = api.get("surveys/responses", survey_id=survey.pk).json()["items"]
    edited = api.patch(f"surveys/responses/{response.pk}", {"answers": {"score": 7}})
    refused = api.patch(f"surveys/responses/{response.pk}", {"answers": {"score": 12}})

    assert [r["id"] for r in listed] == [response.pk]
    assert edited.json()["nps_score"] == 7
    assert "score" in assert_problem(refused, 422)["errors"]


def test_follow_ups_are_worked_through_the_api(api, agent, workspace):
    survey = make_survey(workspace, "nps")
    invitation, _ = sent_invitation(survey, consenting_customer(workspace))
    services.response_record(
        invitation=invitation, answers={"score": 1, "why": "broken"}, keys=["score", "why"]
    )
    dispatch_pending()
    followup = FollowUp.objects.get()

    assigned = api.post(f"surveys/followups/{followup.pk}/assign", {"owner_id": agent.pk})
    contacted = api.post(f"surveys/followups/{followup.pk}/contact")
    incomplete = api.post(f"surveys/followups/{followup.pk}/close", {"root_cause": "product"})
    closed = api.post(
        f"surveys/followups/{followup.pk}/close",
        {
            "root_cause": "product",
            "action_taken": "Replaced the part.",
            "message": "We replaced the faulty part in every new unit.",
        },
    )
    again = api.post(
        f"surveys/followups/{followup.pk}/close", {"root_cause": "product", "action_taken": "x"}
    )

    assert assigned.json()["owner_id"] == agent.pk
    assert contacted.json()["status"] == "contacted"
    assert_problem(incomplete, 422)
    assert closed.json()["status"] == "closed"
    assert_problem(again, 409)
    loop = api.get("surveys/closed-loop").json()
    assert loop["followed_up"] == 1
    assert loop["closed"] == 1
    assert api.get("surveys/followups", status="closed").json()["items"][0]["id"] == followup.pk


def test_settings_are_read_by_members_and_changed_by_admins(api, admin_api, agent):
    assert api.get("surveys/settings").json()["suppression_days"] == 30
    assert_problem(api.patch("surveys/settings", {"suppression_days": 10}), 403)

    changed = admin_api.patch(
        "surveys/settings",
        {
            "suppression_days": 10,
            "followup_owner_id": agent.pk,
            "followup_rules": [{"touchpoint": "delivery", "owner": "agent"}],
        },
    )
    bad_rule = admin_api.patch("surveys/settings", {"followup_rules": [{"owner": 999999}]})

    assert changed.json()["suppression_days"] == 10
    assert changed.json()["followup_owner_id"] == agent.pk
    assert "followup_rules.0.owner" in assert_problem(bad_rule, 422)["errors"]


def count_queries(call):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content
    return len(captured)


def test_lists_metrics_and_export_do_not_grow_queries_with_the_data(api, workspace):
    survey = nps_answers(workspace, {"email": [10, 2], "webchat": [7]})
    calls = {
        "responses": lambda: api.get("surveys/responses"),
        "metrics": lambda: api.get("surveys/metrics", by="agent"),
        "export": lambda: api.get(f"surveys/{survey.pk}/responses.csv"),
        "invitations": lambda: api.get(f"surveys/{survey.pk}/invitations"),
    }
    api.get("surveys")  # the token's first use of the run records its last use: not counted
    before = {name: count_queries(call) for name, call in calls.items()}

    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    for index in range(12):
        invitation, _ = sent_invitation(
            survey, consenting_customer(workspace), source_key=f"more-{index}"
        )
        services.response_record(
            invitation=invitation, answers={"score": index % 11}, keys=["score"]
        )

    after = {name: count_queries(call) for name, call in calls.items()}
    assert after == before
