"""Meta's webhook: GET is the subscription handshake (hub.mode, hub.verify_token,
hub.challenge), POST a delivery signed with X-Hub-Signature-256. A wrong token or signature is
a 403 and logged (account and client address, never a secret); a body that is not what Meta
sends is a 400 problem document naming the path of the problem."""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ascolto.connectors.crypto import CredentialUnreadable
from ascolto.connectors.meta import parse, selectors, services
from ascolto.core.api import problem_response
from ascolto.core.errors import DomainError

logger = logging.getLogger(__name__)


def _problem(request: HttpRequest, exc: DomainError) -> HttpResponse:
    status = 400 if exc.status == 422 else exc.status
    return problem_response(request, status=status, detail=exc.message, errors=exc.field_errors)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest, account_id: int) -> HttpResponse:
    account = selectors.account_for_webhook(account_id=account_id)
    if account is None:
        return problem_response(request, status=404, detail="No such Meta account.")
    try:
        if request.method == "GET":
            challenge = services.verify_handshake(
                account=account,
                mode=request.GET.get("hub.mode", ""),
                token=request.GET.get("hub.verify_token", ""),
                challenge=request.GET.get("hub.challenge", ""),
            )
            return HttpResponse(challenge, content_type="text/plain")
        body = request.body
        if not services.signature_valid(
            account=account, body=body, header=request.headers.get(services.SIGNATURE_HEADER, "")
        ):
            logger.warning(
                "Meta webhook refused: bad signature for account %s from %s",
                account.pk,
                request.META.get("REMOTE_ADDR", "?"),
            )
            return problem_response(
                request,
                status=403,
                detail="The X-Hub-Signature-256 header is missing or wrong.",
            )
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return problem_response(
                request, status=400, code="malformed_json", detail="The body is not JSON."
            )
        batch = parse.parse(payload)
        with transaction.atomic():
            result = services.webhook_apply(account=account, batch=batch)
    except CredentialUnreadable as exc:
        logger.error("Meta account %s: %s", account.pk, exc)
        return problem_response(request, status=503, detail="The account cannot verify requests.")
    except DomainError as exc:
        if exc.status == 403:
            logger.warning(
                "Meta verification refused for account %s from %s: %s",
                account.pk,
                request.META.get("REMOTE_ADDR", "?"),
                exc.message,
            )
        return _problem(request, exc)
    return JsonResponse(
        {"received": result.received, "duplicates": result.duplicates, "statuses": result.statuses}
    )
