"""The widget's HTTP endpoints: script, public settings, upload, files, demo page."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ascolto.connectors.webchat import services
from ascolto.connectors.webchat.views import SCRIPT
from ascolto.inbox.models import Message
from tests.connectors.webchat.conftest import ORIGIN, key_of, make_widget, secret_of

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_the_script_is_small_cached_and_revalidated(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "max-age=3600" in response["Cache-Control"]
    assert response["ETag"]
    assert len(response.content) < 25 * 1024 == 25600
    assert client.get("/widget.js", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_the_script_has_no_dependencies_and_never_renders_messages_as_html():
    source = SCRIPT.read_text(encoding="utf-8")
    assert "import " not in source
    assert "require(" not in source
    # innerHTML only sets the two fixed icons; message text goes through textContent.
    assert source.count("innerHTML") == 2
    for locale in ("en:", "it:", "he:"):
        assert locale in source


def test_the_public_settings_of_a_widget(client, widget):
    response = client.get(f"/widget/config?key={key_of(widget)}", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    body = response.json()
    assert body["title"] == "Caffè Aurora"
    assert body["greeting"]["he"] == "שלום!"
    assert body["online"] is False
    assert body["upload"]["max_bytes"] > 0
    assert secret_of(widget) not in response.content.decode()


def test_settings_are_refused_to_other_sites_and_unknown_keys(client, widget):
    refused = client.get(f"/widget/config?key={key_of(widget)}", HTTP_ORIGIN="https://evil.net")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert "Access-Control-Allow-Origin" not in refused
    assert client.get("/widget/config?key=unknown-key-123").status_code == 404
    assert client.get("/widget/config?key=<script>").status_code == 404


def test_settings_requests_are_rate_limited(client, widget, settings):
    settings.ASCOLTO_WEBCHAT_CONFIG_PER_MINUTE = 3
    for _ in range(3):
        assert client.get(f"/widget/config?key={key_of(widget)}").status_code == 200
    limited = client.get(f"/widget/config?key={key_of(widget)}")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0


def upload(
    client,
    widget,
    token,
    *,
    content=PNG,
    name="receipt.png",
    kind="image/png",
    origin=ORIGIN,
    client_id=None,
):
    data = {
        "client_id": client_id or str(uuid.uuid4()),
        "file": SimpleUploadedFile(name, content, kind),
    }
    if token is not None:
        data["token"] = token
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(f"/widget/upload?key={key_of(widget)}", data, **headers)


def test_a_visitor_sends_a_file_and_can_open_it(client, widget):
    _, token = services.visitor_session_start(inbox=widget)
    response = upload(client, widget, token)
    assert response.status_code == 201, response.content
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    attachment = response.json()["message"]["attachments"][0]
    assert attachment["name"] == "receipt.png"
    assert attachment["content_type"] == "image/png"

    served = client.get(attachment["url"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served.content == PNG
    assert served["Content-Disposition"] == 'inline; filename="receipt.png"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]


def test_a_resent_upload_is_stored_once(client, widget):
    _, token = services.visitor_session_start(inbox=widget)
    client_id = str(uuid.uuid4())
    first = upload(client, widget, token, client_id=client_id).json()["message"]
    again = upload(client, widget, token, client_id=client_id).json()["message"]
    assert first["id"] == again["id"]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"MZ\x90\x00 program", "name": "x.png"}, 422),
        ({"content": b"<svg onload=alert(1)>", "name": "x.svg", "kind": "image/svg+xml"}, 422),
        ({"origin": "https://evil.example.net"}, 403),
        ({"origin": ""}, 403),
    ],
    ids=["not a png", "svg", "other site", "no origin"],
)
def test_uploads_that_are_refused(client, widget, kwargs, status):
    _, token = services.visitor_session_start(inbox=widget)
    response = upload(client, widget, token, **kwargs)
    assert response.status_code == status
    if status == 422:  # the page may read why; another site may not
        assert response["Access-Control-Allow-Origin"] == ORIGIN
    else:
        assert "Access-Control-Allow-Origin" not in response
    assert response["Content-Type"] == "application/problem+json"
    assert Message.objects.count() == 0


def test_uploads_need_a_valid_token_of_this_widget(client, widget, other_workspace):
    assert upload(client, widget, None).status_code == 401
    assert upload(client, widget, "forged").status_code == 401
    other = make_widget(other_workspace)
    _, foreign = services.visitor_session_start(inbox=other)
    assert upload(client, widget, foreign).status_code == 401
    assert Message.objects.count() == 0


def test_uploads_over_the_size_limit(client, widget, settings):
    settings.ASCOLTO_WEBCHAT_UPLOAD_MAX_BYTES = 40
    _, token = services.visitor_session_start(inbox=widget)
    response = upload(client, widget, token)
    assert response.status_code == 413
    assert Message.objects.count() == 0


def test_uploads_are_rate_limited(client, widget, settings):
    settings.ASCOLTO_WEBCHAT_UPLOADS_PER_HOUR = 1
    _, token = services.visitor_session_start(inbox=widget)
    assert upload(client, widget, token).status_code == 201
    assert upload(client, widget, token).status_code == 429


def test_a_forged_file_link_finds_nothing(client):
    assert client.get("/widget/file/forged-token/").status_code == 404


def test_the_demo_page_embeds_the_widget(client, widget):
    page = client.get(f"/widget/demo/?key={key_of(widget)}&locale=he").content.decode()
    assert f'data-key="{key_of(widget)}"' in page
    assert 'dir="rtl"' in page
    assert 'data-locale="he"' in page
    assert "?key=" in client.get("/widget/demo/").content.decode()


def test_the_demo_page_escapes_what_it_is_given(client):
    page = client.get('/widget/demo/?key="><script>alert(1)</script>').content.decode()
    assert "<script>alert(1)</script>" not in page
