"""The survey emails: the invitation (its first question clickable), the reminder, and the
closed-loop message. Rendered in the recipient's language; Hebrew emails are right to left."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from ascolto.surveys.conf import public_url
from ascolto.surveys.models import Invitation, Question
from ascolto.surveys.questions import SCALE_TYPES, localize, survey_text


def survey_url(token: str) -> str:
    return public_url(reverse("surveys:respond", args=[token]))


def answer_url(token: str, score: int) -> str:
    return public_url(reverse("surveys:answer", args=[token, score]))


def invitation_email(
    *, invitation: Invitation, token: str, to: str, first: Question | None, reminder: bool = False
) -> EmailMultiAlternatives:
    """The invitation (or its reminder). When the first question is a scale, each point is a
    one-click link that records the score and opens the rest of the survey."""
    survey = invitation.survey
    language = invitation.language
    with translation.override(language):
        view = localize(first, language) if first is not None else None
        points = (
            [(n, answer_url(token, n)) for n in view.points]
            if view is not None and first is not None and first.type in SCALE_TYPES
            else []
        )
        context = {
            "language": language,
            "rtl": translation.get_language_bidi(),
            "title": survey_text(survey, "title", language),
            "intro": survey_text(survey, "intro", language),
            "question": view,
            "points": points,
            "survey_url": survey_url(token),
            "reminder": reminder,
            "customer_name": invitation.customer.name,
        }
        subject = str(context["title"])
        if reminder:
            subject = _("Reminder: %(title)s") % {"title": subject}
        text = render_to_string("surveys/email/invitation.txt", context)
        html = render_to_string("surveys/email/invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Auto-Submitted": "auto-generated", "X-Ascolto-Invitation": str(invitation.pk)},
    )
    message.attach_alternative(html, "text/html")
    return message


def closing_email(
    *, to: str, language: str, customer_name: str, title: str, body: str
) -> EmailMultiAlternatives:
    """The "we heard you, here is what changed" message of a closed loop."""
    with translation.override(language):
        context = {
            "language": language,
            "rtl": translation.get_language_bidi(),
            "customer_name": customer_name,
            "title": title,
            "body": body,
        }
        subject = _("We heard you: here is what changed")
        text = render_to_string("surveys/email/closing.txt", context)
        html = render_to_string("surveys/email/closing.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    )
    message.attach_alternative(html, "text/html")
    return message
