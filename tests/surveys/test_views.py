"""The public response page and the one-click email answer, through the Django test client."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity
from ascolto.surveys import services, tokens
from ascolto.surveys.models import Invitation, Response, Submission
from ascolto.surveys.services import QuestionInput
from tests.surveys.factories import consenting_customer, make_survey, sent_invitation

PAGE_BUDGET = 50 * 1024


@pytest.fixture
def client():
    # No CSRF cookie is needed: the signed token is what authorises an answer.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def nps(workspace):
    return make_survey(workspace, "nps", intro="Two questions, one minute.")


def link(nps, workspace, locale="en"):
    return sent_invitation(nps, consenting_customer(workspace, locale=locale))


def page(token, suffix=""):
    return f"/s/{token}/{suffix}"


def text(response):
    return response.content.decode()


def test_the_first_question_is_a_plain_form_under_the_weight_budget(client, nps, workspace):
    invitation, token = link(nps, workspace)

    response = client.get(page(token))

    body = text(response)
    assert response.status_code == 200
    assert "How likely are you to recommend us" in body
    assert len(re.findall(r'<input type="radio" name="score" value="\d+"', body)) == 11
    assert '<form method="post"' in body
    assert '<button type="submit">' in body
    # Works without JavaScript and loads nothing else: the page is its whole weight.
    assert "<script" not in body
    assert 'rel="stylesheet"' not in body
    assert "src=" not in body
    assert len(response.content) < PAGE_BUDGET
    assert response["Cache-Control"] == "no-store, private"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "csrftoken" not in response.cookies
    invitation.refresh_from_db()
    assert invitation.opened_at is not None


def test_hebrew_page_runs_right_to_left_scales_included(client, nps, workspace):
    _, token = link(nps, workspace, locale="he")

    body = text(client.get(page(token)))

    assert '<html lang="he" dir="rtl">' in body
    assert "עד כמה סביר שתמליצו עלינו" in body
    assert "ספרו לנו איך היה" in body
    # Logical CSS only, so the scale and its end labels mirror with the page.
    assert "margin-left" not in body
    assert "text-align:left" not in body
    assert "0 = בכלל לא סביר" in body
    assert "10 = סביר מאוד" in body


def test_the_language_can_be_switched_among_the_surveys_languages(client, nps, workspace):
    _, token = link(nps, workspace, locale="he")

    italian = text(client.get(page(token) + "?lang=it"))
    unknown = text(client.get(page(token) + "?lang=fr"))

    assert '<html lang="it" dir="ltr">' in italian
    assert "Quanto è probabile che ci consigli" in italian
    assert 'dir="rtl"' in unknown


def test_tampered_and_unknown_links_get_a_clear_404(client, nps, workspace):
    _, token = link(nps, workspace)
    forged, _ = tokens.make_token(Invitation.objects.get().pk)  # right id, nonce never issued

    for bad in (token[:-2] + "xx", forged, "nonsense"):
        response = client.get(page(bad))
        assert response.status_code == 404
        assert "This link is not valid" in text(response)
    assert client.get(page(forged, "answer/9/")).status_code == 404
    assert not Response.objects.exists()


def test_expired_links_say_so_and_record_nothing(client, nps, workspace):
    invitation, token = link(nps, workspace)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    shown = client.get(page(token))
    clicked = client.get(page(token, "answer/10/"))
    posted = client.post(page(token), {"q": "score", "score": "10"})

    assert shown.status_code == clicked.status_code == posted.status_code == 410
    assert "This survey has closed" in text(shown)
    assert not Response.objects.exists()


def test_one_click_records_the_score_once_then_asks_the_rest(client, nps, workspace):
    invitation, token = link(nps, workspace)

    scanned = client.head(page(token, "answer/2/"))
    first = client.get(page(token, "answer/9/"))
    again = client.get(page(token, "answer/9/"))
    services.intake_drain()

    assert scanned.status_code == 405  # link checkers' HEAD requests record nothing
    assert first.status_code == again.status_code == 302
    assert first["Location"] == page(token)
    response = Response.objects.get()
    assert response.answers == {"score": 9}
    assert response.nps_score == 9
    assert not response.completed
    rest = text(client.get(first["Location"]))
    assert "What is the main reason for your score?" in rest
    assert 'name="score"' not in rest
    invitation.refresh_from_db()
    assert invitation.answered_at is not None


def test_a_second_click_changes_the_score_until_the_survey_is_finished(client, nps, workspace):
    _, token = link(nps, workspace)

    client.get(page(token, "answer/9/"))
    client.get(page(token, "answer/4/"))
    client.post(page(token), {"q": "why", "why": "Slow delivery."})
    after = client.get(page(token, "answer/10/"))
    services.intake_drain()

    response = Response.objects.get()
    assert response.answers == {"score": 4, "why": "Slow delivery."}
    assert response.completed
    assert "You have already answered" in text(after)


def test_one_click_refuses_points_off_the_scale(client, workspace):
    csat = make_survey(workspace, "csat")
    _, token = sent_invitation(csat, consenting_customer(workspace))

    response = client.get(page(token, "answer/6/"))

    assert response.status_code == 400
    assert "not on the scale" in text(response)
    assert not Response.objects.exists()


def test_pages_save_partial_answers_and_finish_with_thanks(client, nps, workspace):
    _, token = link(nps, workspace)

    first = client.post(page(token), {"q": "score", "score": "6"})
    second_page = text(client.get(page(token)))  # before the worker ran: the answer counts
    services.intake_drain()
    partial = Response.objects.get()
    done = client.post(page(token), {"q": "why", "why": "Nobody called back."})
    thanks = client.get(done["Location"])
    services.intake_drain()

    assert first.status_code == 302
    assert partial.answers == {"score": 6}
    assert not partial.completed
    assert "What is the main reason" in second_page
    assert done["Location"] == page(token, "?done=1")
    assert "Thanks for telling us." in text(thanks)
    assert Response.objects.get().completed


def test_a_double_submit_is_recorded_once(client, nps, workspace):
    _, token = link(nps, workspace)
    client.post(page(token), {"q": "score", "score": "2"})

    one = client.post(page(token), {"q": "why", "why": "Rude."})
    two = client.post(page(token), {"q": "why", "why": "Rude."})
    before_the_worker = text(client.get(page(token)))
    services.intake_drain()

    assert one.status_code == two.status_code == 302
    assert two["Location"] == page(token, "?done=1")
    assert "You have already answered" in before_the_worker
    assert Submission.objects.count() == 2  # the first page and the last, each once
    assert Response.objects.count() == 1
    assert Activity.objects.filter(kind="survey.response").count() == 1
    assert OutboxEvent.objects.filter(name="surveys.response.submitted").count() == 1
    assert "You have already answered" in text(client.get(page(token)))


def test_invalid_answers_come_back_with_a_message(client, nps, workspace):
    _, token = link(nps, workspace)

    blank = client.post(page(token), {"q": "score", "score": ""})
    junk = client.post(page(token), {"q": "score", "score": "eleven"})
    incomplete = client.post(page(token), {"score": "5"})

    assert blank.status_code == junk.status_code == 422
    assert 'role="alert"' in text(blank)
    assert "Please answer this question." in text(blank)
    assert "Choose a number on the scale." in text(junk)
    assert incomplete.status_code == 400
    assert not Response.objects.exists()


def test_requests_are_rate_limited_per_ip(client, nps, workspace, settings):
    settings.ASCOLTO_SURVEYS_PAGE_HITS = 3
    _, token = link(nps, workspace)

    codes = [client.get(page(token)).status_code for _ in range(4)]
    refused = client.get(page(token, "answer/5/"))

    assert codes == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert not Response.objects.exists()


def test_custom_surveys_skip_questions_between_pages_without_javascript(client, workspace):
    survey = make_survey(
        workspace,
        "custom",
        questions=[
            QuestionInput(
                key="ok",
                type="single_choice",
                text="Did it arrive intact?",
                required=True,
                choices=[{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
                translations={
                    "he": {"text": "האם הגיע שלם?", "choices": {"yes": "כן", "no": "לא"}}
                },
            ),
            QuestionInput(
                key="damage",
                type="multiple_choice",
                text="What was damaged?",
                show_if={"question": "ok", "in": ["no"]},
                choices=[{"value": "box", "label": "Box"}, {"value": "item", "label": "Item"}],
            ),
            QuestionInput(key="stars", type="rating", text="Rate the courier", display="stars"),
        ],
    )
    _, token = sent_invitation(survey, consenting_customer(workspace))

    first = text(client.get(page(token)))
    client.post(page(token), {"q": "ok", "ok": "no"})
    second = text(client.get(page(token)))
    client.post(page(token), {"q": ["damage", "stars"], "damage": ["item", "box"], "stars": "2"})
    services.intake_drain()

    assert 'type="radio" name="ok" value="yes"' in first
    assert "What was damaged?" not in first
    assert 'type="checkbox" name="damage" value="box"' in second
    assert "★" in second
    response = Response.objects.get()
    assert response.answers == {"ok": "no", "damage": ["box", "item"], "stars": 2}
    assert response.completed
