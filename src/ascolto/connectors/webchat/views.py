"""HTTP side of the widget: the script, its public settings, file upload and download, a demo.

These endpoints are called from other sites: they use no cookie and no CSRF token; they check
the page's Origin against the widget's allowed origins and answer with CORS headers for it.
Errors are problem details (core.api.problem_response), never a 500.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template import engines
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ascolto.connectors.webchat import ratelimit, selectors, services
from ascolto.connectors.webchat.config import (
    UPLOAD_TYPES,
    WidgetSettings,
    origin_allowed,
    upload_max_bytes,
    widget_settings,
)
from ascolto.connectors.webchat.protocol import frame, read_file_token, visitor_message
from ascolto.connectors.webchat.push import push_on_commit
from ascolto.core.api import problem_response
from ascolto.core.errors import DomainError
from ascolto.inbox.models import Inbox

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "static" / "ascolto" / "widget.js"
DEMO = HERE / "templates" / "webchat" / "demo.html"
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}


@lru_cache(maxsize=4)
def _script(mtime: float) -> tuple[bytes, str]:
    content = SCRIPT.read_bytes()
    return content, '"' + hashlib.sha256(content).hexdigest()[:20] + '"'


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """The widget. Cached by browsers and CDNs for an hour, then revalidated by ETag."""
    content, etag = _script(SCRIPT.stat().st_mtime)
    status = 304 if request.headers.get("If-None-Match") == etag else 200
    response = HttpResponse(
        b"" if status == 304 else content,
        status=status,
        content_type="text/javascript; charset=utf-8",
    )
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=3600, stale-while-revalidate=86400"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _cors(response: HttpResponseBase, origin: str) -> HttpResponseBase:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response


def _problem(
    request: HttpRequest,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    origin: str = "",
) -> HttpResponseBase:
    """A problem document; readable by the page only when `origin` (checked) is given."""
    response = problem_response(
        request, status=status, detail=detail, code=code, errors=errors, headers=headers
    )
    return _cors(response, origin)


def _widget_for(
    request: HttpRequest, key: str, *, origin_required: bool, limit: str
) -> tuple[Inbox, WidgetSettings] | HttpResponseBase:
    """The inbox of a widget key, after the rate limit and the origin check; else a problem."""
    ip = request.META.get("REMOTE_ADDR", "unknown")
    wait = ratelimit.hit(limit, ip)
    if wait:
        return _problem(
            request,
            429,
            _("Too many requests; try again later."),
            headers={"Retry-After": str(wait)},
        )
    inbox = selectors.inbox_for_key(key)
    if inbox is None:
        return _problem(request, 404, _("There is no chat widget with this key."))
    widget = widget_settings(inbox.config)
    origin = request.headers.get("Origin", "")
    if (origin or origin_required) and not origin_allowed(
        origin=origin, allowed=widget.allowed_origins, server_host=request.get_host()
    ):
        return _problem(
            request, 403, _("This website may not use this chat widget."), code="forbidden"
        )
    return inbox, widget


@require_GET
def widget_config(request: HttpRequest) -> HttpResponseBase:
    """Public settings of a widget: texts, colour, whether an agent is online, upload limits."""
    found = _widget_for(request, request.GET.get("key", ""), origin_required=False, limit="config")
    if isinstance(found, HttpResponseBase):
        return found
    inbox, widget = found
    online = selectors.agents_online(inbox)
    body = {
        "title": widget.title,
        "color": widget.color,
        "greeting": widget.greeting,
        "offline_message": widget.offline_message,
        "identity_required": widget.identity_required,
        "locale": inbox.workspace.default_locale,
        "online": online,
        "reply": {"open_now": True, "next_open_at": None}
        if online
        else selectors.reply_expectation(inbox).as_dict(),
        "upload": {"max_bytes": upload_max_bytes(), "types": list(UPLOAD_TYPES)},
        "socket": "/ws/widget/",
        "upload_url": reverse("webchat:upload"),
    }
    response = HttpResponse(json.dumps(body, ensure_ascii=False), content_type="application/json")
    response["Cache-Control"] = "public, max-age=30"
    return _cors(response, request.headers.get("Origin", ""))


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def widget_upload(request: HttpRequest) -> HttpResponseBase:
    """A file from a visitor: multipart with key, token, client_id, file and an optional text.
    201 with {"message": ...}; 413 too large; 422 type not accepted; 401 bad token."""
    if request.method == "OPTIONS":
        response = _cors(HttpResponse(status=204), request.headers.get("Origin", ""))
        response["Access-Control-Allow-Methods"] = "POST"
        response["Access-Control-Max-Age"] = "3600"
        return response
    max_bytes = upload_max_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes + 64 * 1024:
        return _problem(request, 413, _("The file is too large."))
    found = _widget_for(
        request,
        request.GET.get("key", "") or request.POST.get("key", ""),
        origin_required=True,
        limit="upload",
    )
    if isinstance(found, HttpResponseBase):
        return found
    inbox, widget = found
    origin = request.headers.get("Origin", "")
    upload = request.FILES.get("file")
    if upload is None:
        return _problem(
            request, 422, _("Choose a file to send."), errors={"file": ["Required."]}, origin=origin
        )
    if upload.size is not None and upload.size > max_bytes:
        return _problem(request, 413, _("The file is too large."), origin=origin)
    try:
        session, _token = (
            services.visitor_session_start(inbox=inbox, token=request.POST.get("token", ""))
            if request.POST.get("token")
            else (None, "")
        )
        if session is None:
            return _problem(
                request,
                401,
                _("Open the chat before sending a file."),
                code="not_authenticated",
                origin=origin,
            )
        with transaction.atomic():
            result = services.visitor_upload(
                inbox=inbox,
                session=session,
                client_id=request.POST.get("client_id", ""),
                filename=upload.name or "file",
                content_type=upload.content_type or "",
                content=upload.read(),
                text=request.POST.get("text", ""),
                locale=request.POST.get("locale", ""),
            )
            message = visitor_message(result.message, team_name=widget.title)
            push_on_commit(
                inbox_id=inbox.pk,
                customer_id=result.conversation.customer_id,
                frame=frame("message", message=message),
            )
    except DomainError as exc:
        return _problem(
            request, exc.status, exc.message, code=exc.code, errors=exc.field_errors, origin=origin
        )
    response = HttpResponse(
        json.dumps({"message": message}, ensure_ascii=False),
        status=201,
        content_type="application/json",
    )
    return _cors(response, request.headers.get("Origin", ""))


@require_GET
def widget_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """A file of a chat, by the signed URL the widget got with the message (valid 7 days)."""
    attachment_id = read_file_token(token)
    attachment = selectors.visitor_attachment(attachment_id) if attachment_id else None
    if attachment is None:
        return problem_response(request, status=404, detail=_("This file is not available."))
    inline = attachment.content_type in INLINE_TYPES
    # Read whole (files are size-limited): under ASGI a streamed file would be read
    # synchronously into memory all the same.
    with attachment.file.open("rb") as stored:
        content = stored.read()
    response = HttpResponse(
        content,
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["Content-Disposition"] = (
        content_disposition_header(not inline, attachment.filename) or ""
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def widget_demo(request: HttpRequest) -> HttpResponse:
    """A pretend shop page with the widget on it: `?key=<widget key>&locale=he`."""
    locale = services.clean_locale(request.GET.get("locale", ""))
    context: dict[str, Any] = {
        "key": request.GET.get("key", "")[:64],
        "locale": locale if locale in ("en", "it", "he") else "",
        "rtl": locale == "he",
        "script_url": reverse("webchat:js"),
    }
    template = engines["django"].from_string(DEMO.read_text(encoding="utf-8"))
    return HttpResponse(template.render(context, request))
