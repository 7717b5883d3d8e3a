"""The page behind "This answered my question" in an email acknowledgement.

GET only shows the question (mail scanners open links on their own, so a GET changes nothing);
the customer's POST confirms the deflection and resolves the conversation. The signed token is
the authorisation, so the form needs no CSRF cookie (a customer coming from an email has none).
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ascolto.assistant import selectors, services
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.helpcenter.models import RTL_LANGUAGES


def _page(
    request: HttpRequest, language: str, context: dict[str, object], status: int = 200
) -> HttpResponse:
    with translation.override(language):
        return render(
            request,
            "assistant/answered.html",
            {"language": language, "rtl": language in RTL_LANGUAGES, **context},
            status=status,
        )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def email_answered(request: HttpRequest, token: str) -> HttpResponse:
    language = translation.get_language_from_request(request) or "en"
    try:
        found = selectors.email_confirmation(token=token)
    except ValidationFailed:
        with translation.override(language):
            message = _("This link is not valid. Use the link exactly as it is in the email.")
        return _page(request, language, {"error": message}, status=400)
    except NotFound:
        with translation.override(language):
            message = _("This suggestion no longer exists.")
        return _page(request, language, {"error": message}, status=404)
    offer = found.offer
    if request.method == "POST":
        with transaction.atomic():
            offer, _newly = services.deflection_confirm_email(
                workspace=offer.workspace, offer_id=offer.pk, article_id=found.article_id
            )
    return _page(
        request,
        offer.language,
        {
            "title": found.title,
            "done": offer.confirmed_at is not None,
            "workspace_name": offer.workspace.name,
        },
    )
