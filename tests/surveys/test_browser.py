"""A customer answers an NPS survey on a phone-sized screen, in Hebrew and in Italian, in a real
Chromium (Playwright). Skipped where either is missing, except in CI (CI=true). Screenshots of
the survey page are saved into docs/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from django.db import connection, transaction

from ascolto.surveys.models import Response
from tests.accounts.factories import WorkspaceFactory
from tests.surveys.factories import consenting_customer, make_survey, sent_invitation

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
PHONE = {"width": 390, "height": 844}
T = TypeVar("T")


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright Python package is not installed"
    else:
        problem = "" if CHROMIUM.exists() else f"{CHROMIUM} is missing"
    if problem:
        if IN_CI:
            pytest.fail(f"Browser tests need Chromium and Playwright: {problem}.", pytrace=False)
        pytest.skip(problem)
    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads stay
    # synchronous, so Django's async-safety guard is lifted while the browser lives.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=ARGS
            )
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=False,
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def off_the_browser_thread(build: Callable[[], T]) -> T:
    """Build data in a thread of its own (services publish realtime events through
    async_to_sync, which refuses to run beside Playwright's loop)."""

    def run() -> T:
        try:
            with transaction.atomic():
                return build()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def survey_link(locale: str) -> tuple[int, str]:
    def build() -> tuple[int, str]:
        workspace = WorkspaceFactory(name="Bottega Aurora")
        survey = make_survey(workspace, "nps", touchpoint="delivery")
        invitation, token = sent_invitation(survey, consenting_customer(workspace, locale=locale))
        return invitation.pk, token

    return off_the_browser_thread(build)


def box(page: Page, score: int) -> dict[str, Any]:
    found = page.locator(f'label.pt:has(input[value="{score}"])').bounding_box()
    assert found is not None
    return dict(found)


def test_answer_an_nps_survey_in_hebrew_on_a_phone(phone: Page, live_server: Any) -> None:
    invitation_id, token = survey_link("he")

    phone.goto(f"{live_server.url}/s/{token}/")

    assert phone.locator("html").get_attribute("dir") == "rtl"
    assert phone.get_by_role("heading", name="ספרו לנו איך היה").is_visible()
    # Right to left: 0 sits at the right end of the scale, 10 at the left, all on screen.
    zero, ten = box(phone, 0), box(phone, 10)
    assert zero["x"] > ten["x"]
    assert ten["x"] >= 0
    assert zero["x"] + zero["width"] <= PHONE["width"]
    assert zero["height"] >= 40  # a finger-sized target
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / "survey-nps-he.png"), full_page=True)

    phone.get_by_text("9", exact=True).click()
    phone.get_by_label("מה הסיבה העיקרית לציון שנתתם?").fill("שליח אדיב ומהיר")
    phone.get_by_role("button", name="שליחה").click()

    assert phone.get_by_role("heading", name="תודה!").is_visible()
    response = Response.objects.get(invitation_id=invitation_id)
    assert response.completed
    assert response.nps_score == 9
    assert response.language == "he"
    assert response.comment == "שליח אדיב ומהיר"


def test_answer_an_nps_survey_in_italian_from_the_email_link(phone: Page, live_server: Any) -> None:
    invitation_id, token = survey_link("it")

    # The email's one-click link records the score, then the page asks the rest.
    phone.goto(f"{live_server.url}/s/{token}/answer/3/")

    assert phone.locator("html").get_attribute("lang") == "it"
    assert phone.get_by_role("heading", name="Dicci come è andata").is_visible()
    assert Response.objects.get(invitation_id=invitation_id).nps_score == 3
    why = phone.get_by_label("Qual è il motivo principale del tuo voto?")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / "survey-nps-it.png"), full_page=True)
    why.fill("La consegna è arrivata in ritardo.")
    phone.get_by_role("button").last.click()

    assert phone.get_by_role("heading", name="Grazie!").is_visible()
    response = Response.objects.get(invitation_id=invitation_id)
    assert response.completed
    assert response.answers == {"score": 3, "why": "La consegna è arrivata in ritardo."}
