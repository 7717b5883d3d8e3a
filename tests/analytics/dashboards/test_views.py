"""The dashboards as a signed-in member sees them, in English, Italian and Hebrew."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from tests.analytics.dashboards.conftest import PERIOD, survey_response
from tests.customers.factories import OrderFactory
from tests.ui.conftest import login

DASHBOARDS = ["overview", "operations", "voice", "value", "team"]
TITLES = {
    "overview": {"en": "CX overview", "it": "Panoramica CX", "he": "סקירת חוויית לקוח"},
    "operations": {
        "en": "Service operations",
        "it": "Operazioni di servizio",
        "he": "תפעול השירות",
    },
    "voice": {"en": "Voice of the customer", "it": "Voce del cliente", "he": "קול הלקוח"},
    "value": {"en": "Customer value", "it": "Valore dei clienti", "he": "ערך לקוחות"},
    "team": {"en": "Team and agents", "it": "Team e operatori", "he": "צוות ונציגים"},
}


def get(client, name, **params):
    url = reverse(f"analytics:{name}") + "?" + urlencode({**PERIOD, **params})
    return client.get(url)


def figure(html: str, key: str) -> str:
    match = re.search(rf'data-metric="{key}".*?data-value="([^"]*)"', html, re.S)
    assert match, key
    return match.group(1)


def figure_link(html: str, key: str) -> str:
    match = re.search(rf'data-metric="{key}".*?<a class="value" href="([^"]+)"', html, re.S)
    assert match, key
    return unescape(match.group(1))


@pytest.mark.parametrize("name", DASHBOARDS)
@pytest.mark.parametrize(
    ("language", "html_tag"),
    [
        ("en", '<html lang="en" dir="ltr">'),
        ("it", '<html lang="it" dir="ltr">'),
        ("he", '<html lang="he" dir="rtl">'),
    ],
)
def test_each_dashboard_renders_in_each_language(scenario, client, name, language, html_tag):
    scenario.agent1.locale = language
    scenario.agent1.save()
    login(client, scenario.agent1)

    response = get(client, name)

    html = response.content.decode()
    assert response.status_code == 200
    assert html_tag in html
    assert '<svg class="chart' in html
    assert "<title id=" in html
    assert 'aria-labelledby="chart-' in html
    assert "<table" in html  # the data-table fallback of every chart
    assert f"<h1>{TITLES[name][language]}</h1>" in html
    assert not re.search(r'data-value="\d+,\d', html)  # machine-readable whatever the language


def test_overview_numbers_and_deltas(member_client):
    html = get(member_client, "overview").content.decode()

    assert figure(html, "conversations") == "3.0"
    assert figure(html, "frt_median") == "1200.0"
    # One conversation in the previous period: +2.
    assert re.search(r'data-metric="conversations".*?data-delta="2.0">\+2', html, re.S)
    # First response time did not move (1200 s both periods): no change shown as better/worse.
    assert re.search(r'data-metric="frt_median".*?data-delta="0.0">±', html, re.S)


def test_filters_change_the_dashboard(member_client, scenario):
    html = get(member_client, "overview", channel="email").content.decode()

    assert figure(html, "conversations") == "1.0"
    assert figure(html, "frt_median") == "1800.0"


def test_trend_chart_holds_each_day_of_both_periods(member_client):
    html = get(member_client, "overview").content.decode()

    current = re.findall(r'<circle class="series-current"[^>]*data-value="([^"]+)"', html)
    previous = re.findall(r'<circle class="series-previous"[^>]*data-value="([^"]+)"', html)
    assert current == ["1", "1", "1", "0", "0", "0", "0"]
    assert previous == ["0", "1", "0", "0", "0", "0", "0"]


def test_rtl_mirrors_the_time_axis(scenario, client):
    login(client, scenario.agent1)
    ltr = get(client, "overview").content.decode()
    scenario.agent1.locale = "he"
    scenario.agent1.save()
    rtl = get(client, "overview").content.decode()

    def first_x(html):
        return float(re.search(r'<circle class="series-current" cx="([\d.]+)"', html).group(1))

    assert first_x(ltr) < 320 < first_x(rtl)  # the first day starts at the reading edge


def test_heatmap_counts_by_local_weekday_and_hour(member_client):
    html = get(member_client, "operations").content.decode()

    # c1 starts Monday 10:00 in Rome (09:00Z).
    assert re.search(r"<title>[^<]*10:00: 1</title>", html)
    cells = re.findall(r'<rect class="cell"[^>]*data-value="(\d+)"', html)
    assert len(cells) == 7 * 24
    assert sorted(int(c) for c in cells)[-3:] == [1, 1, 1]


def test_drill_down_lists_exactly_the_conversations_behind_a_number(member_client, scenario):
    html = get(member_client, "overview").content.decode()
    link = figure_link(html, "reopen_rate")

    page = member_client.get(link).content.decode()

    assert re.findall(r'data-conversation="(\d+)"', page) == [str(scenario.c2.pk)]
    all_link = figure_link(html, "conversations")
    listed = re.findall(r'data-conversation="(\d+)"', member_client.get(all_link).content.decode())
    # Newest start first: c3 started on the 4th, c2 on the 3rd, c1 on the 2nd.
    assert listed == [str(scenario.c3.pk), str(scenario.c2.pk), str(scenario.c1.pk)]


def test_drill_down_keeps_the_filters(member_client, scenario):
    html = get(member_client, "overview", channel="webchat").content.decode()

    page = member_client.get(figure_link(html, "conversations")).content.decode()

    assert re.findall(r'data-conversation="(\d+)"', page) == [
        str(scenario.c3.pk),
        str(scenario.c1.pk),
    ]


def test_team_view_per_agent_with_drill_links(member_client, scenario):
    html = get(member_client, "team").content.decode()

    table = html[html.index('data-testid="agent-table"') :]
    anna = table[table.index(str(scenario.agent1)) :]
    counts = re.findall(r'<a href="([^"]+)">(\d+)</a>', anna)[:2]
    assert [n for _, n in counts] == ["2", "1"]  # c1, c3 assigned; c1 resolved
    page = member_client.get(unescape(counts[0][0])).content.decode()
    assert re.findall(r'data-conversation="(\d+)"', page) == [
        str(scenario.c3.pk),
        str(scenario.c1.pk),
    ]


def test_voice_funnel_and_customer_drill(member_client, scenario):
    when = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
    survey_response(scenario.workspace, scenario.gold, nps=10, when=when, n=1)
    survey_response(scenario.workspace, scenario.silver, nps=2, when=when, n=2)

    html = get(member_client, "voice").content.decode()

    assert figure(html, "nps") == "0.0"
    stages = re.findall(r'<rect class="stage"[^>]*data-value="(\d+)"', html)
    assert stages == ["2", "2", "2"]
    page = member_client.get(figure_link(html, "nps")).content.decode()  # the detractors
    assert re.findall(r'data-customer="(\d+)"', page) == [str(scenario.silver.pk)]


def test_value_pareto_and_buyers(member_client, scenario):
    OrderFactory(
        customer=scenario.gold,
        total="900.00",
        currency="EUR",
        placed_at=dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC),
    )
    OrderFactory(
        customer=scenario.silver,
        total="100.00",
        currency="EUR",
        placed_at=dt.datetime(2026, 3, 3, 11, tzinfo=dt.UTC),
    )
    OrderFactory(
        customer=scenario.silver,
        total="999.00",
        currency="EUR",
        status="cancelled",
        placed_at=dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC),
    )

    html = get(member_client, "value").content.decode()

    assert figure(html, "revenue") == "1000.0"
    assert figure(html, "buyers") == "2.0"
    # Largest first: half of the customers make 90% of the revenue.
    assert re.search(r"<title>50% [^:]*: 90</title>", html)
    top = member_client.get(figure_link(html, "share_for_80")).content.decode()
    assert re.findall(r'data-customer="(\d+)"', top) == [
        str(scenario.gold.pk)
    ]  # 900 of 1000 reaches 80%
    assert figure(html, "share_for_80") == "50.0"
    page = member_client.get(figure_link(html, "buyers")).content.decode()
    assert re.findall(r'data-customer="(\d+)"', page) == [
        str(scenario.gold.pk),
        str(scenario.silver.pk),
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "Give a date as YYYY-MM-DD."),
        ({"channel": "pigeon"}, "Unknown channel."),
        ({"agent": "x"}, "Give a number."),
        ({"from": "2026-03-09", "to": "2026-03-01"}, "The start date must not be after the end"),
    ],
)
def test_bad_filters_are_a_clear_400(member_client, params, message):
    response = member_client.get(reverse("analytics:overview") + "?" + urlencode(params))

    assert response.status_code == 400
    assert message in unescape(response.content.decode())


def test_unknown_drill_list_is_a_400(member_client):
    response = member_client.get(reverse("analytics:drill_conversations") + "?subset=nope")

    assert response.status_code == 400


def test_sign_in_is_required(client):
    response = client.get(reverse("analytics:overview"))

    assert response.status_code == 302


def test_a_member_sees_only_their_workspace(other_workspace, scenario):
    from tests.accounts.factories import MembershipFactory, UserFactory

    outsider = UserFactory()
    outsider.save()
    MembershipFactory(workspace=other_workspace, user=outsider)
    client = login(Client(), outsider)

    html = get(client, "overview").content.decode()

    assert figure(html, "conversations") == "1.0"
    page = client.get(figure_link(html, "conversations")).content.decode()
    assert re.findall(r'data-conversation="(\d+)"', page) == [str(scenario.foreign.pk)]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_query_count_does_not_grow_with_conversations(member_client, scenario, name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.analytics.dashboards.conftest import at, conversation

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert get(member_client, name).status_code == 200
        return len(captured)

    before = queries()
    for day in range(2, 8):
        conversation(
            scenario.workspace,
            customer=scenario.gold,
            channel="sms",
            start=at(day, 11),
            assignee=scenario.agent2,
            frt=60,
        )

    assert queries() == before
