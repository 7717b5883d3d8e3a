"""Journey stages and pain points against a workspace computed by hand.

Workspace in UTC, period 2026-03-02..2026-03-08. Customers and what they did in the period:

  A  conversation cA: intent "where_is_my_parcel" (deliver), negative, tag "late"
     order oA placed 03-03, promised 03-05, delivered 03-07 (late); earlier orders 02-01, 02-21
     NPS answer 3 at the delivery touchpoint (poor)
  B  conversation cB: intent "invoice_copy" (buy), neutral
     order oB placed 03-04, delivered on time; NPS answer 9 at the support touchpoint
  C  order oC placed 03-05, delayed; NPS answer 10 at the website touchpoint
  D  conversation cD: no intent, positive, tag "late" (deliver)
  E  order oE placed 03-02, cancelled

Touches: discover rC | buy cB oA oB oC oE(neg) | deliver cA(neg) cD rA(neg) oA(neg) oB oC(neg)
| use - | support cA(neg) cB cD rB. Customers 5; unhappy A, C, E.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.urls import reverse

from ascolto.analytics.dashboards.filters import parse_filters
from ascolto.analytics.journey import selectors
from ascolto.analytics.journey.stages import DEFAULT_MAP, StageMap
from ascolto.assistant.models import MessageTriage
from ascolto.inbox.models import Message, Tag
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.analytics.dashboards.conftest import conversation
from tests.api.conftest import ApiClient, assert_problem
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.surveys.factories import make_survey
from tests.ui.conftest import login

PERIOD = {"from": "2026-03-02", "to": "2026-03-08"}


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def triage(c, *, intent: str = "", sentiment: str = "") -> None:
    message = Message.objects.filter(conversation=c, kind="inbound").first()
    MessageTriage.objects.create(
        workspace=c.workspace, message=message, intent=intent, sentiment=sentiment
    )


def tag(c, name: str) -> None:
    t, _ = Tag.objects.get_or_create(workspace=c.workspace, name=name)
    c.tags.add(t)


def answer(workspace, customer, *, nps: int, touchpoint: str, when: dt.datetime, n: int):
    from ascolto.surveys.models import Invitation, Response

    survey = make_survey(workspace, "nps", name=f"J{n}")
    invitation = Invitation.objects.create(
        workspace=workspace, survey=survey, customer=customer, channel="email", status="sent",
        source_key=f"j{n}", send_after=when, sent_at=when, answered_at=when,
    )  # fmt: skip
    r = Response.objects.create(
        workspace=workspace, survey=survey, invitation=invitation, customer=customer,
        nps_score=nps, touchpoint=touchpoint, completed=True,
    )  # fmt: skip
    Response.objects.filter(pk=r.pk).update(created_at=when)
    return r


@pytest.fixture
def world(workspace, other_workspace):
    workspace.timezone = "UTC"
    workspace.save()
    c = {n: CustomerFactory(workspace=workspace, name=n) for n in "ABCDE"}
    c["A"].value_tier = "gold"
    c["A"].save()
    convs = {}
    convs["A"] = conversation(workspace, customer=c["A"], channel="email", start=at(3, 3))
    triage(convs["A"], intent="where_is_my_parcel", sentiment="negative")
    tag(convs["A"], "late")
    convs["B"] = conversation(workspace, customer=c["B"], channel="email", start=at(3, 4))
    triage(convs["B"], intent="invoice_copy", sentiment="neutral")
    convs["D"] = conversation(workspace, customer=c["D"], channel="webchat", start=at(3, 6))
    triage(convs["D"], sentiment="positive")
    tag(convs["D"], "late")
    for day in (1, 21):
        OrderFactory(customer=c["A"], placed_at=at(2, day), status="delivered")
    OrderFactory(
        customer=c["A"], placed_at=at(3, 3), status="delivered",
        promised_at=at(3, 5), delivered_at=at(3, 7),
    )  # fmt: skip
    OrderFactory(
        customer=c["B"], placed_at=at(3, 4), status="delivered",
        promised_at=at(3, 6), delivered_at=at(3, 5),
    )  # fmt: skip
    OrderFactory(customer=c["C"], placed_at=at(3, 5), status="delayed", promised_at=at(3, 7))
    OrderFactory(customer=c["E"], placed_at=at(3, 2), status="cancelled")
    answer(workspace, c["A"], nps=3, touchpoint="delivery", when=at(3, 8), n=1)
    answer(workspace, c["B"], nps=9, touchpoint="support", when=at(3, 6), n=2)
    answer(workspace, c["C"], nps=10, touchpoint="website", when=at(3, 7), n=3)
    # Outside the period, and another workspace: never counted.
    OrderFactory(customer=c["D"], placed_at=at(3, 10), status="delayed")
    foreign = conversation(
        other_workspace, customer=CustomerFactory(workspace=other_workspace), channel="email",
        start=at(3, 3),
    )  # fmt: skip
    triage(foreign, intent="where_is_my_parcel", sentiment="negative")
    tag(foreign, "late")
    return workspace, c, convs, foreign


def compute(workspace, **params):
    filters = parse_filters({**PERIOD, **params}, workspace=workspace)
    return selectors.journey(workspace=workspace, filters=filters)


def risk(days: float, gap: float) -> float:
    return 1 - math.exp(-days / gap)


def test_stage_volumes_and_negative_shares(world):
    workspace, *_ = world

    stages = {s.stage: s for s in compute(workspace).stages}

    assert [s for s in stages] == ["discover", "buy", "deliver", "use", "support"]
    assert {k: s.interactions for k, s in stages.items()} == {
        "discover": 1, "buy": 5, "deliver": 6, "use": 0, "support": 4,
    }  # fmt: skip
    assert {k: s.customers for k, s in stages.items()} == {
        "discover": 1, "buy": 4, "deliver": 4, "use": 0, "support": 3,
    }  # fmt: skip
    assert stages["buy"].negative_share == pytest.approx(1 / 5)
    assert stages["deliver"].negative_share == pytest.approx(4 / 6)
    assert stages["support"].negative_share == pytest.approx(1 / 4)
    assert stages["discover"].negative_share == 0
    assert stages["use"].negative_share is None


def test_stage_effects_on_nps_and_churn_risk(world):
    workspace, *_ = world

    stages = {s.stage: s for s in compute(workspace).stages}

    # Answers: A 3, B 9, C 10. Discover: C (NPS 100) against A and B (NPS 0).
    assert stages["discover"].nps_touched == pytest.approx(100)
    assert stages["discover"].nps_not_touched == pytest.approx(0)
    assert stages["discover"].nps_effect == pytest.approx(100)
    # Support: A and B (0) against C (100).
    assert stages["support"].nps_effect == pytest.approx(-100)
    # Everyone who answered touched "buy": nobody to compare with.
    assert stages["buy"].nps_touched == pytest.approx(100 / 3)
    assert stages["buy"].nps_effect is None
    # Churn risk on 03-08: A's usual gap is 15 days (gaps 20 and 10), last order 5 days ago;
    # B and C have one order (90-day gap), 4 and 3 days ago; D and E have no purchase.
    a, b, c = risk(5, 15), risk(4, 90), risk(3, 90)
    assert stages["support"].churn_touched == pytest.approx((a + b) / 2)
    assert stages["support"].churn_not_touched == pytest.approx(c)
    assert stages["support"].churn_effect == pytest.approx((a + b) / 2 - c)
    assert stages["discover"].churn_effect == pytest.approx(c - (a + b) / 2)


def test_pain_points_ranked_by_frequency_times_impact(world):
    workspace, *_ = world

    journey = compute(workspace)
    points = {p.key: p for p in journey.pain_points}

    assert (journey.customers, journey.unhappy) == (5, 3)
    assert [p.key for p in journey.pain_points] == [
        "order:late_delivery",  # 2 customers x (100% - 1 of 3 others) = 4/3
        "intent:where_is_my_parcel",  # 1 x (100% - 2 of 4) = 0.5, tie broken by key
        "order:cancelled",  # 1 x (100% - 2 of 4) = 0.5
        "tag:late",  # 2 x (50% - 2 of 3) = -1/3
        "intent:invoice_copy",  # 1 x (0% - 3 of 4) = -0.75
    ]
    late = points["order:late_delivery"]
    assert (late.customers, late.interactions, late.unhappy) == (2, 2, 2)
    assert late.baseline_share == pytest.approx(1 / 3)
    assert late.impact == pytest.approx(2 / 3)
    assert late.score == pytest.approx(4 / 3)
    assert late.nps_effect == pytest.approx(-100)  # A 3 and C 10 (NPS 0) against B 9 (100)
    assert points["tag:late"].interactions == 2  # cA counts once though it touches two stages
    assert points["tag:late"].score == pytest.approx(-1 / 3)
    assert points["intent:invoice_copy"].score == pytest.approx(-0.75)


def test_the_tier_filter_keeps_only_those_customers(world):
    workspace, *_ = world

    journey = compute(workspace, tier="gold")

    assert journey.customers == 1
    assert {s.stage: s.interactions for s in journey.stages} == {
        "discover": 0, "buy": 1, "deliver": 3, "use": 0, "support": 1,
    }  # fmt: skip


def test_a_workspace_mapping_moves_touches_between_stages(world):
    workspace, *_ = world
    mapping = StageMap(
        touchpoints={**DEFAULT_MAP.touchpoints, "website": "use"},
        keywords={**DEFAULT_MAP.keywords, "deliver": ()},
    )
    filters = parse_filters(PERIOD, workspace=workspace)

    stages = {
        s.stage: s.interactions
        for s in selectors.journey(workspace=workspace, filters=filters, mapping=mapping).stages
    }

    assert stages["use"] == 1
    assert stages["discover"] == 0
    assert stages["deliver"] == 4  # cA and cD no longer map there


def test_drill_down_of_a_cause_lists_its_customers_and_conversations(world):
    workspace, c, convs, _ = world
    filters = parse_filters(PERIOD, workspace=workspace)

    drill = selectors.journey_drill(workspace=workspace, filters=filters, cause="tag:late")

    assert [x.name for x in drill.customers] == ["A", "D"]  # the unhappy one first
    assert drill.unhappy == {c["A"].pk}
    assert {x.pk for x in drill.conversations} == {convs["A"].pk, convs["D"].pk}


@pytest.mark.parametrize(("params", "field"), [({"stage": "moon"}, "stage"), ({}, "stage")])
def test_drill_down_refuses_a_bad_choice(world, params, field):
    workspace, *_ = world
    filters = parse_filters(PERIOD, workspace=workspace)

    with pytest.raises(selectors.ValidationFailed) as exc:
        selectors.journey_drill(workspace=workspace, filters=filters, **params)

    assert field in exc.value.field_errors


def test_another_workspace_sees_only_its_own(world, other_workspace):
    _, _, _, _foreign = world

    journey = compute(other_workspace)

    assert journey.customers == 1
    assert {p.key: p.customers for p in journey.pain_points} == {
        "intent:where_is_my_parcel": 1,
        "tag:late": 1,
    }


# --- Page and API ------------------------------------------------------------------------------


@pytest.fixture
def member(world):
    workspace = world[0]
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="agent")
    return user


@pytest.mark.parametrize(
    ("language", "html_tag", "title"),
    [
        ("en", '<html lang="en" dir="ltr">', "Customer journey"),
        ("he", '<html lang="he" dir="rtl">', None),
    ],
)
def test_the_page_renders_with_charts_in_each_direction(client, member, language, html_tag, title):
    member.locale = language
    login(client, member)

    response = client.get(reverse("analytics:journey"), PERIOD)

    html = response.content.decode()
    assert response.status_code == 200
    assert html_tag in html
    assert html.count('<svg class="chart chart-bars"') == 3
    assert 'data-stage="deliver"' in html
    assert 'data-cause="order:late_delivery"' in html
    assert "margin-left" not in html
    assert "padding-left" not in html
    if title:
        assert f"<h1>{title}</h1>" in html


def test_rtl_bars_grow_from_the_right(client, member):
    login(client, member)
    ltr = client.get(reverse("analytics:journey"), PERIOD).content.decode()
    member.locale = "he"
    login(client, member)
    rtl = client.get(reverse("analytics:journey"), PERIOD).content.decode()

    import re

    def first_bar_x(html: str) -> float:
        return float(re.search(r'<rect class="bar" x="([\d.]+)"', html).group(1))

    assert first_bar_x(ltr) < 320 < first_bar_x(rtl)


def test_the_page_links_each_pain_point_to_its_drill_down(client, member, world):
    _, c, convs, _ = world
    login(client, member)

    drill = client.get(reverse("analytics:journey_drill"), {**PERIOD, "cause": "tag:late"})

    html = drill.content.decode()
    assert drill.status_code == 200
    assert f'data-customer="{c["A"].pk}"' in html
    assert f'data-conversation="{convs["D"].pk}"' in html


def test_the_page_answers_bad_filters_with_400(client, member):
    login(client, member)

    assert client.get(reverse("analytics:journey"), {"from": "yesterday"}).status_code == 400
    assert client.get(reverse("analytics:journey_drill"), {"stage": "x"}).status_code == 400


def test_the_page_needs_a_signed_in_member(client, world):
    response = client.get(reverse("analytics:journey"))

    assert response.status_code == 302


@pytest.fixture
def api(world, member, make_token):
    return ApiClient(make_token(member, world[0]))


def test_api_gives_the_same_figures(api):
    response = api.get("analytics/journey", **PERIOD)

    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"first_day": "2026-03-02", "last_day": "2026-03-08"}
    assert (body["customers"], body["unhappy"]) == (5, 3)
    assert [s["interactions"] for s in body["stages"]] == [1, 5, 6, 0, 4]
    assert body["pain_points"][0]["key"] == "order:late_delivery"
    assert body["pain_points"][0]["score"] == pytest.approx(4 / 3)


def test_api_drill_down(api, world):
    _, c, _convs, _ = world

    body = api.get("analytics/journey/drill", **PERIOD, cause="order:late_delivery").json()

    assert body["customer_ids"] == sorted([c["A"].pk, c["C"].pk])
    assert body["unhappy_customer_ids"] == sorted([c["A"].pk, c["C"].pk])
    assert body["conversation_ids"] == []


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("analytics/journey", {"from": "03/02/2026"}, "from"),
        ("analytics/journey", {"tier": "diamond"}, "tier"),
        ("analytics/journey/drill", {"stage": "moon"}, "stage"),
        ("analytics/journey/drill", {"cause": "nothing"}, "cause"),
    ],
)
def test_api_bad_input_is_a_400_problem(api, path, params, field):
    body = assert_problem(api.get(path, **params), 400, "invalid_filters")

    assert field in body["errors"]


def test_api_is_scoped_to_the_tokens_workspace(world, other_workspace, make_token):
    outsider = UserFactory()
    MembershipFactory(workspace=other_workspace, user=outsider)
    other = ApiClient(make_token(outsider, other_workspace))

    body = other.get("analytics/journey", **PERIOD).json()
    drill = other.get("analytics/journey/drill", **PERIOD, cause="tag:late").json()

    assert body["customers"] == 1
    assert drill["conversation_ids"] == [world[3].pk]


def test_api_needs_a_token(world):
    assert_problem(ApiClient().get("analytics/journey"), 401)


def test_survey_comment_themes_are_causes_too(workspace):
    workspace.timezone = "UTC"
    workspace.save()
    comments = [
        ("late delivery, the courier lost the package", 2),
        ("courier late again, package delivery took weeks", 3),
        ("friendly agent, quick helpful answer", 10),
        ("helpful friendly agent answered quickly", 9),
    ]
    for n, (text, score) in enumerate(comments):
        r = answer(
            workspace, CustomerFactory(workspace=workspace), nps=score, touchpoint="delivery",
            when=at(3, 4), n=100 + n,
        )  # fmt: skip
        type(r).objects.filter(pk=r.pk).update(comment=text, language="en")

    journey = compute(workspace)

    themes = [p for p in journey.pain_points if p.kind == "theme"]
    assert len(themes) == 2
    worst, best = themes  # ranked: the late-delivery comments come with unhappy customers
    assert "courier" in worst.key or "late" in worst.key or "package" in worst.key
    assert (worst.customers, worst.unhappy) == (2, 2)
    assert worst.score == pytest.approx(2 * (1 - 0))
    assert (best.customers, best.unhappy) == (2, 0)
    assert best.label.startswith("Comment theme (en):")
    filters = parse_filters(PERIOD, workspace=workspace)
    drill = selectors.journey_drill(workspace=workspace, filters=filters, cause=worst.key)
    assert drill.customer_count == 2
