"""The inbound HTTP endpoint: a raw RFC 5322 message POSTed by an MTA pipe or an inbound-mail
webhook, to /connectors/email/<mailbox token>/inbound.

The token in the URL is the mailbox's secret (shown to its admins); an unknown one is 404, so
it never tells whether a mailbox exists. The body is the message itself (any content type;
`message/rfc822` is usual). Answers: 201 stored, 200 already stored (same Message-ID), 400 not
an email, 413 larger than the mailbox accepts. Errors are problem details, never a 500.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ascolto.connectors.email import services
from ascolto.connectors.email.models import Mailbox
from ascolto.core.api import problem_response
from ascolto.core.errors import DomainError


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, token: str) -> HttpResponseBase:
    mailbox = (
        Mailbox.objects.select_related("inbox", "workspace").filter(inbound_token=token).first()
        if token
        else None
    )
    if mailbox is None:
        return problem_response(request, status=404, detail=_("There is no mailbox at this URL."))
    if not mailbox.inbox.is_active:
        return problem_response(
            request, status=409, detail=_("This inbox is disabled and takes no new messages.")
        )
    limit = mailbox.max_message_bytes
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return problem_response(request, status=400, detail=_("Content-Length is not a number."))
    if declared > limit:
        return _too_large(request, limit)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return _too_large(request, limit)
    if not raw.strip():
        return problem_response(
            request,
            status=400,
            detail=_("The request body is empty: send the raw email message."),
            errors={"body": [_("Required.")]},
        )
    try:
        with transaction.atomic():
            outcome = services.email_ingest(mailbox=mailbox, raw=raw, source="http")
    except DomainError as exc:
        return problem_response(
            request, status=exc.status, detail=exc.message, errors=exc.field_errors
        )
    record = outcome.record
    body = {
        "message_id": record.message_id,
        "stored": outcome.created,
        "kind": record.kind,
        "conversation_id": record.conversation_id,
        "inbox_message_id": outcome.message.pk if outcome.message else None,
        "refused_attachments": outcome.refused_attachments or [],
    }
    return HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status=201 if outcome.created else 200,
        content_type="application/json",
    )


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return problem_response(
        request,
        status=413,
        detail=_("The message is larger than this mailbox accepts (%(limit)s bytes).")
        % {"limit": limit},
    )
