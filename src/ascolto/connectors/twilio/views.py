"""Twilio's webhooks: inbound messages and status callbacks, signed with X-Twilio-Signature.

A bad or missing signature is refused with 403 and logged (account, client address, never the
token). A form that is not what Twilio sends is a 400 problem document naming the field.
Inbound answers with empty TwiML: replies go out through the Messages API, not the response.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ascolto.connectors.crypto import CredentialUnreadable
from ascolto.connectors.twilio import parse, selectors, services, signature
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.api import problem_response
from ascolto.core.errors import DomainError

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _form(request: HttpRequest) -> dict[str, str]:
    return {key: request.POST.get(key, "") for key in request.POST}


def _verified(request: HttpRequest, account_id: int) -> TwilioAccount | HttpResponse:
    account = selectors.account_for_webhook(account_id=account_id)
    if account is None:
        return problem_response(request, status=404, detail="No such Twilio account.")
    try:
        token = account.auth_token
    except CredentialUnreadable as exc:
        logger.error("Twilio account %s: %s", account.pk, exc)
        return problem_response(request, status=503, detail="The account cannot verify requests.")
    params = [(key, value) for key, values in request.POST.lists() for value in values]
    if not signature.is_valid(
        auth_token=token,
        url=request.build_absolute_uri(),
        params=params,
        signature=request.headers.get(signature.HEADER, ""),
    ):
        logger.warning(
            "Twilio webhook refused: bad signature for account %s from %s on %s",
            account.pk,
            request.META.get("REMOTE_ADDR", "?"),
            request.path,
        )
        return problem_response(
            request, status=403, detail="The X-Twilio-Signature header is missing or wrong."
        )
    return account


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, account_id: int) -> HttpResponse:
    account = _verified(request, account_id)
    if isinstance(account, HttpResponse):
        return account
    try:
        message = parse.inbound(_form(request))
        with transaction.atomic():
            services.inbound_receive(account=account, inbound=message)
    except DomainError as exc:
        status = 400 if exc.status == 422 else exc.status
        return problem_response(request, status=status, detail=exc.message, errors=exc.field_errors)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def status(request: HttpRequest, account_id: int) -> HttpResponse:
    account = _verified(request, account_id)
    if isinstance(account, HttpResponse):
        return account
    try:
        update = parse.status_update(_form(request))
        with transaction.atomic():
            message = services.status_apply(account=account, update=update)
    except DomainError as exc:
        status = 400 if exc.status == 422 else exc.status
        return problem_response(request, status=status, detail=exc.message, errors=exc.field_errors)
    if message is None:
        # Not ours (or long gone): a 2xx, or Twilio would keep retrying it.
        logger.info("Twilio status for unknown MessageSid on account %s", account.pk)
    return HttpResponse(status=204)
