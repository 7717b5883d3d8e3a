"""Visitor tokens, identity verification and origin checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto.connectors.webchat import identity
from ascolto.connectors.webchat.config import normalize_origin, origin_allowed
from ascolto.connectors.webchat.identity import (
    IdentityRejected,
    InvalidToken,
    VisitorSession,
    issue_token,
    read_token,
    user_hash,
    verify_user,
)

SECRET = "a" * 64


def session(**kwargs: object) -> VisitorSession:
    fields: dict[str, object] = {"inbox_id": 7, "workspace_id": 3, "visitor_id": "v-1"}
    fields.update(kwargs)
    return VisitorSession(**fields)  # type: ignore[arg-type]


def test_a_token_resumes_its_session():
    token = issue_token(session(), secret=SECRET)
    assert read_token(token, inbox_id=7, workspace_id=3, secret=SECRET) == session()


@pytest.mark.parametrize(
    ("inbox_id", "workspace_id"), [(8, 3), (7, 4)], ids=["other inbox", "other workspace"]
)
def test_a_token_is_refused_by_any_other_widget(inbox_id, workspace_id):
    token = issue_token(session(), secret=SECRET)
    with pytest.raises(InvalidToken):
        read_token(token, inbox_id=inbox_id, workspace_id=workspace_id, secret=SECRET)


def test_a_tampered_or_expired_token_is_refused(settings):
    token = issue_token(session(), secret=SECRET)
    with pytest.raises(InvalidToken):
        read_token(token[:-2] + "xx", inbox_id=7, workspace_id=3, secret=SECRET)
    with pytest.raises(InvalidToken):
        read_token("", inbox_id=7, workspace_id=3, secret=SECRET)
    settings.ASCOLTO_WEBCHAT_TOKEN_MAX_AGE = -1
    with pytest.raises(InvalidToken, match="expired"):
        read_token(token, inbox_id=7, workspace_id=3, secret=SECRET)


def test_rotating_the_secret_ends_verified_sessions_only():
    verified = issue_token(session(user_id="42"), secret=SECRET)
    anonymous = issue_token(session(), secret=SECRET)
    with pytest.raises(InvalidToken, match="verified again"):
        read_token(verified, inbox_id=7, workspace_id=3, secret="b" * 64)
    assert read_token(anonymous, inbox_id=7, workspace_id=3, secret="b" * 64) == session()


def test_the_host_site_hash_verifies_its_user():
    good = user_hash(SECRET, "42")
    assert verify_user(secret=SECRET, user_id="42", email="", user_hash_hex=good) == ("42", "")
    assert verify_user(secret=SECRET, user_id="42", email="", user_hash_hex=good.upper())[0] == "42"
    # An email sent beside the id is not covered by the hash: it is not reported as verified.
    assert verify_user(secret=SECRET, user_id="42", email="x@y.it", user_hash_hex=good) == (
        "42",
        "",
    )
    by_email = user_hash(SECRET, "noa@example.com")
    assert verify_user(
        secret=SECRET, user_id="", email="Noa@Example.com", user_hash_hex=by_email
    ) == ("", "noa@example.com")


@pytest.mark.parametrize(
    ("user_id", "hash_of", "secret"),
    [
        ("43", "42", SECRET),  # another user's hash
        ("42", "42", "b" * 64),  # signed with another workspace's secret
        ("42", None, SECRET),  # no hash
        ("", "", SECRET),  # nobody
        ("42", "42", ""),  # verification not set up
    ],
)
def test_a_wrong_hash_is_refused(user_id, hash_of, secret):
    provided = user_hash(SECRET, hash_of) if hash_of is not None else "zz"
    with pytest.raises(IdentityRejected):
        verify_user(secret=secret, user_id=user_id, email="", user_hash_hex=provided)


def test_visitor_ids_are_unguessable():
    ids = {identity.new_visitor_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(v) >= 22 for v in ids)


# --- origins ---------------------------------------------------------------------------------

ALLOWED = ("https://shop.example.com", "https://*.example.org")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example.com", True),
        ("https://SHOP.example.com", True),
        ("http://shop.example.com", False),  # another scheme
        ("https://shop.example.com:8443", False),  # another port
        ("https://evilshop.example.com", False),
        ("https://shop.example.com.evil.net", False),
        ("https://www.example.org", True),
        ("https://a.b.example.org", True),
        ("https://example.org", False),  # the wildcard is for subdomains
        ("https://evilexample.org", False),
        ("null", False),
        ("", False),
    ],
)
def test_origins(origin, allowed):
    assert origin_allowed(origin=origin, allowed=ALLOWED) is allowed


def test_ascolto_own_host_is_allowed_only_when_it_is_an_allowed_host(settings):
    settings.ALLOWED_HOSTS = ["cx.example.com"]
    assert origin_allowed(origin="https://cx.example.com", allowed=(), server_host="cx.example.com")
    assert not origin_allowed(
        origin="https://other.example.com", allowed=(), server_host="other.example.com"
    )
    assert not origin_allowed(
        origin="https://evil.example.net", allowed=(), server_host="cx.example.com"
    )


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("https://Shop.Example.com/", "https://shop.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://*.example.org", "https://*.example.org"),
        ("https://shop.example.com/path", None),
        ("ftp://shop.example.com", None),
        ("shop.example.com", None),
        ("https://*", None),
        ("https://a.*.example.com", None),
    ],
)
def test_configured_origins_are_normalized(raw, normalized):
    assert normalize_origin(raw) == normalized


@given(host=st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}", fullmatch=True))
def test_no_host_outside_the_configured_ones_is_ever_allowed(host):
    allowed = origin_allowed(origin=f"https://{host}", allowed=ALLOWED)
    assert allowed == (host == "shop.example.com" or host.endswith(".example.org"))
