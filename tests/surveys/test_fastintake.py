"""Survey page submits served in front of Django (surveys/fastintake.py): stored once, completed
by the intake worker, and answered as the Django view answers, over a real uvicorn server and
in-process. The module runs on SQLite and, with DATABASE_URL, on PostgreSQL (where the fast path
uses psycopg async connections of its own)."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from django.core.asgi import get_asgi_application
from django.db import transaction
from django.utils import timezone

from ascolto.surveys import ratelimit, services
from ascolto.surveys.fastintake import SurveySubmits
from ascolto.surveys.models import Invitation, Response, Submission
from ascolto.surveys.services import intake
from ascolto.surveys.views import MAX_SUBMIT_BYTES
from tests.surveys.factories import consenting_customer, make_survey, sent_invitation

pytestmark = pytest.mark.django_db(transaction=True)
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def wake_ups(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The intake worker's wake-ups, recorded instead of run: with Huey immediate in tests the
    job would run in the wake-up thread, writing beside the request threads, which the test
    database (SQLite in memory, shared cache) refuses instead of waiting. The tests run the
    worker themselves."""
    calls: list[float] = []
    monkeypatch.setattr(intake, "wake_worker", lambda: calls.append(time.monotonic()))
    return calls


@pytest.fixture
def app() -> Iterator[SurveySubmits]:
    submits = SurveySubmits(get_asgi_application())
    yield submits
    submits.close()


@pytest.fixture
def nps(workspace: Any) -> Any:
    return make_survey(workspace, "nps")


@pytest.fixture
def link(nps: Any, workspace: Any) -> tuple[Invitation, str]:
    with transaction.atomic():  # as the services expect of their callers
        return sent_invitation(nps, consenting_customer(workspace))


def form(**fields: Any) -> bytes:
    pairs = [("q", key) for key in fields] + list(fields.items())
    return urllib.parse.urlencode(pairs).encode()


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body
        self.text = body.decode(errors="replace")


async def asgi_call(
    app: SurveySubmits,
    path: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    query: str = "",
    headers: dict[str, str] | None = None,
    client: str = "10.1.1.1",
    chunks: int = 1,
) -> Answer:
    """One request through the ASGI app, the body in `chunks` messages (no content-length
    when chunked, as a client streaming its body)."""
    sent_headers = {"host": "testserver", **(headers or {})}
    if method == "POST":
        sent_headers.setdefault("content-type", FORM)
        if chunks == 1:
            sent_headers.setdefault("content-length", str(len(body)))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in sent_headers.items()],
        "client": (client, 50000),
        "server": ("testserver", 80),
    }
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(scope, receive, send)
    start = out[0]
    return Answer(
        start["status"],
        {k.decode().lower(): v.decode() for k, v in start["headers"]},
        b"".join(m.get("body", b"") for m in out[1:]),
    )


def call(app: SurveySubmits, path: str, body: bytes = b"", **kwargs: Any) -> Answer:
    return asyncio.run(asgi_call(app, path, body, **kwargs))


def stored() -> list[dict[str, Any]]:
    return [row.answers for row in Submission.objects.order_by("pk")]


# --- Through a real uvicorn server ---------------------------------------------------------


@pytest.fixture
def server(app: SurveySubmits, free_port: int) -> Iterator[int]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port, lifespan="off", log_level="warning"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield free_port
    running.should_exit = True
    thread.join(timeout=30)


def post(port: int, path: str, body: bytes, content_type: str = FORM) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body, {"Content-Type": content_type})
        got = conn.getresponse()
        return Answer(got.status, {k.lower(): v for k, v in got.getheaders()}, got.read())
    finally:
        conn.close()


# A comment that needs quoting wherever it travels (the group commit sends one JSON document).
COMMENT = 'Quick "and" kind \\ {really}, [yes] — מהיר ואדיב 📦'


def test_both_pages_over_http_are_stored_then_completed_by_the_worker(server, link, wake_ups):
    invitation, token = link

    first = post(server, f"/s/{token}/", form(score="9"))
    second = post(server, f"/s/{token}/", form(why=COMMENT))

    # The Django view's answers: the next page, then the thank-you page.
    assert (first.status, first.headers["location"]) == (302, f"/s/{token}/")
    assert (second.status, second.headers["location"]) == (302, f"/s/{token}/?done=1")
    assert second.headers["cache-control"] == "no-store, private"
    assert stored() == [{"score": 9}, {"why": COMMENT}]
    assert Submission.objects.filter(invitation=invitation, completes=True).count() == 1

    deadline = time.monotonic() + 10
    while not wake_ups and time.monotonic() < deadline:  # woken after the commit
        time.sleep(0.05)
    assert wake_ups
    services.intake_drain()  # what the woken worker runs

    response = Response.objects.get(invitation=invitation)
    assert response.completed
    assert (response.nps_score, response.comment) == (9, COMMENT)
    assert not Submission.objects.filter(processed_at__isnull=True).exists()


def test_the_thank_you_page_follows_the_redirect_over_http(server, link):
    _, token = link
    post(server, f"/s/{token}/", form(score="3"))
    post(server, f"/s/{token}/", form(why="Slow."))

    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    conn.request("GET", f"/s/{token}/?done=1")
    page = conn.getresponse()
    assert page.status == 200
    assert "Thanks for telling us." in page.read().decode()


def test_a_tampered_token_over_http_gets_the_django_page_and_stores_nothing(server, link):
    _, token = link
    answer = post(server, f"/s/{token[:-2]}xx/", form(score="9"))

    assert answer.status == 404
    assert "This link is not valid" in answer.text
    assert not Submission.objects.exists()


# --- In-process, through the ASGI app -------------------------------------------------------


def test_a_double_submit_is_stored_once_and_answered_alike(app, link):
    invitation, token = link
    page = f"/s/{token}/"
    last_page = form(score="7", why="Fine.")

    async def twice_at_once() -> list[Answer]:
        return list(await asyncio.gather(*(asgi_call(app, page, last_page) for _ in range(2))))

    together = asyncio.run(twice_at_once())
    retried = call(app, page, last_page)  # a retry before the worker ran

    assert [a.status for a in [*together, retried]] == [302, 302, 302]
    assert {a.headers["location"] for a in [*together, retried]} == {f"{page}?done=1"}
    assert stored() == [{"score": 7, "why": "Fine."}]
    services.intake_drain()
    assert Response.objects.get(invitation=invitation).nps_score == 7


def test_a_submit_after_completion_redirects_to_the_thank_you_page(app, link):
    invitation, token = link
    call(app, f"/s/{token}/", form(score="10", why="All good."))
    services.intake_drain()

    again = call(app, f"/s/{token}/", form(score="2"))

    assert (again.status, again.headers["location"]) == (302, f"/s/{token}/?done=1")
    assert stored() == [{"score": 10, "why": "All good."}]
    assert Response.objects.get(invitation=invitation).nps_score == 10


def test_a_partial_answer_is_kept(app, link):
    invitation, token = link

    answer = call(app, f"/s/{token}/", form(score="4"))

    assert (answer.status, answer.headers["location"]) == (302, f"/s/{token}/")
    services.intake_drain()
    response = Response.objects.get(invitation=invitation)
    assert (response.completed, response.nps_score) == (False, 4)
    page = asyncio.run(asgi_call(app, f"/s/{token}/", method="GET"))
    assert page.status == 200
    assert 'name="why"' in page.text  # the next page, not the score again


def test_the_language_chosen_on_the_page_is_kept_in_the_redirect(app, link):
    invitation, token = link

    answer = call(app, f"/s/{token}/", form(score="8"), query="lang=it")

    assert answer.headers["location"] == f"/s/{token}/?lang=it"
    assert Submission.objects.get().language == "it"
    done = call(app, f"/s/{token}/", form(why="Bene."), query="lang=it")
    assert done.headers["location"] == f"/s/{token}/?done=1&lang=it"
    assert invitation.language == "en"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "text"),
    [
        (b"score=9", FORM, 400, "Something is missing"),  # no question named
        (form(colour="red"), FORM, 400, "Something is missing"),  # not a question of it
        (form(score="42"), FORM, 422, "Tell us how we did"),  # off the scale: the form again
        (b'{"score": 9}', "application/json", 400, "Something is missing"),  # not a form
    ],
)
def test_malformed_submits_get_the_django_answers_and_store_nothing(
    app, link, body, content_type, status, text
):
    _, token = link

    answer = call(app, f"/s/{token}/", body, headers={"content-type": content_type})

    assert answer.status == status
    assert text in answer.text
    assert not Submission.objects.exists()


def test_a_tampered_or_foreign_token_is_not_valid(app, link):
    _, token = link
    for bad in (token[:-3] + "abc", "not-a-token", token.replace(":", "x", 1)):
        answer = call(app, f"/s/{bad}/", form(score="9"))
        assert answer.status == 404, bad
    assert not Submission.objects.exists()


def test_an_oversize_body_is_refused_with_413(app, link):
    _, token = link
    body = form(score="9", why="x" * (MAX_SUBMIT_BYTES + 10))

    answer = call(app, f"/s/{token}/", body)

    assert answer.status == 413
    assert "Your answers are too long" in answer.text
    assert not Submission.objects.exists()


def test_a_streamed_body_past_the_limit_is_handed_on_whole(app, link):
    # No Content-Length: the Django view reads the body (given back by the fast path with what
    # it had read) and refuses the answer as too long, as it does without the fast path.
    _, token = link
    body = form(score="9", why="x" * (MAX_SUBMIT_BYTES + 10))

    answer = call(app, f"/s/{token}/", body, chunks=40)

    assert answer.status == 422
    assert "Tell us how we did" in answer.text
    assert not Submission.objects.exists()


def test_a_closed_survey_says_so(app, link):
    invitation, token = link
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    answer = call(app, f"/s/{token}/", form(score="9"))

    assert answer.status == 410
    assert not Submission.objects.exists()


def test_the_rate_limit_is_counted_once_per_request_on_both_paths(app, link, settings):
    settings.ASCOLTO_SURVEYS_PAGE_HITS = 3
    _, token = link
    ip = "10.9.9.9"

    accepted = call(app, f"/s/{token}/", form(score="9"), client=ip)
    handed_on = call(app, f"/s/{token}x/", form(score="9"), client=ip)  # Django answers
    viewed = call(app, f"/s/{token}/", method="GET", client=ip)  # Django counts
    limited = call(app, f"/s/{token}/", form(why="Hi"), client=ip)
    other = call(app, f"/s/{token}/", form(why="Hi"), client="10.9.9.10")

    assert [accepted.status, handed_on.status, viewed.status] == [302, 404, 200]
    assert limited.status == 429
    assert 1 <= int(limited.headers["retry-after"]) <= ratelimit.WINDOW_SECONDS
    assert "Too many requests" in limited.text
    assert other.status == 302
    assert stored() == [{"score": 9}, {"why": "Hi"}]


def test_the_429_page_speaks_the_browser_language(app, link, settings):
    settings.ASCOLTO_SURVEYS_PAGE_HITS = 0
    _, token = link

    answer = call(app, f"/s/{token}/", form(score="9"), headers={"accept-language": "he"})

    assert answer.status == 429
    assert 'lang="he"' in answer.text
    assert 'dir="rtl"' in answer.text


def test_other_routes_and_methods_go_to_django(app, link):
    _, token = link

    view = call(app, f"/s/{token}/", method="GET")
    one_click = call(app, f"/s/{token}/answer/6/", method="GET")

    assert view.status == 200
    assert one_click.status == 302
    assert stored() == [{"score": 6}]


@pytest.mark.redis
def test_with_redis_the_fast_path_counts_in_the_django_cache_keys(settings, redis_url):
    from django.core.cache import cache

    settings.REDIS_URL = redis_url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": settings.REDIS_PREFIX,
        }
    }
    settings.ASCOLTO_SURVEYS_PAGE_HITS = 3
    now = 1_800_000_010.0
    ip = "10.7.7.7"
    try:
        first = asyncio.run(ratelimit.hits_many([ip, ip], now=now))
        django_side = ratelimit.hit_ip(ip, now=now)  # the Django view's count, same key
        after = asyncio.run(ratelimit.hits_many([ip, "10.7.7.8"], now=now))
    finally:
        cache.clear()

    assert first == [0, 0]
    assert django_side == 0
    assert after == [50, 0]  # the 4th hit in the window that ends in 50 s; another IP is free
