"""Signed inbound webhooks (generic and Shopify-style), outside the token-authenticated API:
the HMAC signature under the workspace's engagement secret is their authentication.

Errors are problem documents like the API's: 403 for a bad signature, 400 for a body that is
not JSON, 422 for an event with invalid fields, 404 for an unknown workspace.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from ascolto.core.actors import Actor
from ascolto.core.api import field_errors_from_pydantic, problem_response
from ascolto.core.errors import DomainError
from ascolto.core.models import Workspace
from ascolto.engagement import guards, inbound, services
from ascolto.engagement.api import EventIn, event_input, event_out


def _answer(event: Any, created: bool) -> HttpResponse:
    return JsonResponse(event_out(event, created), status=201 if created else 200)


def _problem(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return problem_response(
        request, status=exc.status, detail=exc.message, code=exc.code, errors=exc.field_errors
    )


def _receive(request: HttpRequest, slug: str, shopify: bool) -> HttpResponse:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        return problem_response(request, status=404, detail=_("No such workspace."))
    with transaction.atomic():
        secret = guards.settings_for(workspace.pk).webhook_secret
    if shopify:
        signed = inbound.verify_shopify(
            secret, request.body, request.headers.get(inbound.SHOPIFY_SIGNATURE_HEADER, "")
        )
    else:
        signed = inbound.verify(
            secret, request.body, request.headers.get(inbound.SIGNATURE_HEADER, "")
        )
    if not signed:
        return problem_response(
            request, status=403, detail=_("The webhook signature does not match.")
        )
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return problem_response(
            request, status=400, detail=_("The request body is not valid JSON.")
        )
    try:
        if shopify:
            data = inbound.shopify_event(
                request.headers.get(inbound.SHOPIFY_TOPIC_HEADER, ""),
                request.headers.get(inbound.SHOPIFY_ID_HEADER, ""),
                body,
            )
        else:
            data = event_input(EventIn.model_validate(body), "webhook")
        with transaction.atomic():
            event, created = services.event_ingest(
                workspace=workspace,
                data=data,
                actor=Actor.system("shopify" if shopify else "webhook"),
            )
    except ValidationError as exc:
        return problem_response(
            request,
            status=422,
            detail=_("The event is not valid: %(error)s") % {"error": exc.errors()[0]["msg"]},
            errors=field_errors_from_pydantic(exc.errors(), ninja=False),
        )
    except DomainError as exc:
        return _problem(request, exc)
    return _answer(event, created)


@csrf_exempt
@require_POST
def generic_webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """An event in the generic format (the body of POST /api/v1/engagement/events), signed
    with `X-Ascolto-Signature: sha256=<hex HMAC-SHA256 of the raw body>`."""
    return _receive(request, slug, shopify=False)


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """A Shopify order or fulfillment webhook signed with `X-Shopify-Hmac-Sha256`."""
    return _receive(request, slug, shopify=True)
