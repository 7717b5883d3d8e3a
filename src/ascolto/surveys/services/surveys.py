"""Survey definitions: create, change, replace questions, workspace survey settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.accounts.models import Membership
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record, diff
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.inbox.models import Channel
from ascolto.surveys import definitions
from ascolto.surveys.models import (
    LANGUAGES,
    Question,
    Response,
    Submission,
    Survey,
    SurveySettings,
    Touchpoint,
)
from ascolto.surveys.questions import CHOICE_TYPES, FIXED_SCALES, MAX_RATING_POINTS

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SURVEY_TEXT_FIELDS = ("title", "intro", "thanks")
QUESTION_TEXT_FIELDS = ("text", "low_label", "high_label")
MAX_QUESTIONS = 50
MAX_CHOICES = 30
SURVEY_FIELDS = (
    "name",
    "touchpoint",
    "default_language",
    "title",
    "intro",
    "thanks",
    "translations",
    "trigger",
    "delay_minutes",
    "trigger_channels",
    "relational_every_days",
    "sampling_rate",
    "expiry_days",
    "is_active",
)
FOLLOWUP_RULE_KEYS = {"touchpoint", "segment", "reason", "owner", "due_hours"}


@dataclass
class QuestionInput:
    key: str
    type: str
    text: str
    required: bool = False
    display: str = Question.Display.NUMBERS
    scale_min: int | None = None
    scale_max: int | None = None
    low_label: str = ""
    high_label: str = ""
    choices: list[dict[str, str]] = field(default_factory=list)
    show_if: dict[str, Any] = field(default_factory=dict)
    translations: dict[str, dict[str, Any]] = field(default_factory=dict)
    end_if: dict[str, Any] = field(default_factory=dict)


# --- Defaults -------------------------------------------------------------------------------

# The standard questions of each kind, in English; the survey's translations add the rest.
DEFAULT_QUESTIONS: dict[str, list[QuestionInput]] = {
    Survey.Kind.NPS: [
        QuestionInput(
            key="score",
            type="nps",
            required=True,
            text="How likely are you to recommend us to a friend or colleague?",
            translations={
                "it": {
                    "text": "Quanto è probabile che ci consigli a un amico o a un collega?",
                    "low_label": "Per niente probabile",
                    "high_label": "Estremamente probabile",
                },
                "he": {
                    "text": "עד כמה סביר שתמליצו עלינו לחבר או לעמית?",
                    "low_label": "בכלל לא סביר",
                    "high_label": "סביר מאוד",
                },
            },
        ),
        QuestionInput(
            key="why",
            type="text",
            text="What is the main reason for your score?",
            translations={
                "it": {"text": "Qual è il motivo principale del tuo voto?"},
                "he": {"text": "מה הסיבה העיקרית לציון שנתתם?"},
            },
        ),
    ],
    Survey.Kind.CSAT: [
        QuestionInput(
            key="score",
            type="csat",
            required=True,
            display=Question.Display.STARS,
            text="How satisfied are you with the help you received?",
            translations={
                "it": {
                    "text": "Quanto sei soddisfatto dell'aiuto ricevuto?",
                    "low_label": "Molto insoddisfatto",
                    "high_label": "Molto soddisfatto",
                },
                "he": {
                    "text": "עד כמה אתם מרוצים מהעזרה שקיבלתם?",
                    "low_label": "לא מרוצה בכלל",
                    "high_label": "מרוצה מאוד",
                },
            },
        ),
        QuestionInput(
            key="why",
            type="text",
            text="What could we have done better?",
            translations={
                "it": {"text": "Cosa avremmo potuto fare meglio?"},
                "he": {"text": "מה יכולנו לעשות טוב יותר?"},
            },
        ),
    ],
    Survey.Kind.CES: [
        QuestionInput(
            key="score",
            type="ces",
            required=True,
            text="The company made it easy for me to handle my issue.",
            translations={
                "it": {
                    "text": "L'azienda mi ha reso facile risolvere il mio problema.",
                    "low_label": "Per niente d'accordo",
                    "high_label": "Del tutto d'accordo",
                },
                "he": {
                    "text": "החברה הקלה עליי לטפל בפנייה שלי.",
                    "low_label": "לא מסכים בכלל",
                    "high_label": "מסכים מאוד",
                },
            },
        ),
        QuestionInput(
            key="why",
            type="text",
            text="What made it easy or hard?",
            translations={
                "it": {"text": "Cosa l'ha reso facile o difficile?"},
                "he": {"text": "מה הקל או הקשה?"},
            },
        ),
    ],
}


# --- Validation -----------------------------------------------------------------------------


def _check_translations(
    value: Any,
    allowed_fields: tuple[str, ...],
    where: str,
    errors: dict[str, list[str]],
    *,
    choices: set[str] | None = None,
) -> None:
    if not isinstance(value, dict):
        errors[where] = [_("An object keyed by language (en, it, he).")]
        return
    for language, texts in value.items():
        if language not in LANGUAGES:
            errors[f"{where}.{language}"] = [_("Languages: en, it, he.")]
            continue
        if not isinstance(texts, dict):
            errors[f"{where}.{language}"] = [_("An object of texts.")]
            continue
        for key, text in texts.items():
            if key == "choices" and choices is not None:
                if not isinstance(text, dict) or not all(
                    str(k) in choices and isinstance(v, str) for k, v in text.items()
                ):
                    errors[f"{where}.{language}.choices"] = [
                        _("Labels keyed by the values of the choices.")
                    ]
            elif key not in allowed_fields or not isinstance(text, str) or len(text) > 2000:
                errors[f"{where}.{language}.{key}"] = [
                    _("Translatable texts: %(fields)s.") % {"fields": ", ".join(allowed_fields)}
                ]


def _validate_survey_fields(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "name" in values and not str(values["name"]).strip():
        errors["name"] = [_("Required.")]
    if "title" in values and not str(values["title"]).strip():
        errors["title"] = [_("Required.")]
    if "touchpoint" in values and values["touchpoint"] not in Touchpoint.values:
        errors["touchpoint"] = [_("Choose one of: %(v)s.") % {"v": ", ".join(Touchpoint.values)}]
    if "default_language" in values and values["default_language"] not in LANGUAGES:
        errors["default_language"] = [_("Languages: en, it, he.")]
    if "trigger" in values and values["trigger"] not in Survey.Trigger.values:
        errors["trigger"] = [_("Choose one of: %(v)s.") % {"v": ", ".join(Survey.Trigger.values)}]
    channels = values.get("trigger_channels", [])
    if not isinstance(channels, list) or any(c not in Channel.values for c in channels):
        errors["trigger_channels"] = [
            _("Conversation channels among: %(v)s.") % {"v": ", ".join(Channel.values)}
        ]
    rate = values.get("sampling_rate", 1.0)
    if not isinstance(rate, int | float) or not 0 <= rate <= 1:
        errors["sampling_rate"] = [_("A share from 0 to 1.")]
    if values.get("expiry_days", 1) < 1:
        errors["expiry_days"] = [_("At least one day.")]
    if values.get("relational_every_days", 1) < 1:
        errors["relational_every_days"] = [_("At least one day.")]
    if "translations" in values:
        _check_translations(values["translations"], SURVEY_TEXT_FIELDS, "translations", errors)
    if errors:
        raise ValidationFailed(_("The survey is not valid."), field_errors=errors)


def _validate_questions(questions: list[QuestionInput]) -> None:
    errors: dict[str, list[str]] = {}
    if not questions:
        errors["questions"] = [_("A survey needs at least one question.")]
    if len(questions) > MAX_QUESTIONS:
        errors["questions"] = [_("At most %(n)d questions.") % {"n": MAX_QUESTIONS}]
    seen: dict[str, QuestionInput] = {}
    for index, q in enumerate(questions):
        where = f"questions.{index}"
        if not KEY_RE.match(q.key):
            errors[f"{where}.key"] = [_("Lower-case letters, digits, - and _ (at most 40).")]
        elif q.key in seen:
            errors[f"{where}.key"] = [_("Used by another question.")]
        if q.type not in Question.Type.values:
            errors[f"{where}.type"] = [
                _("Choose one of: %(v)s.") % {"v": ", ".join(Question.Type.values)}
            ]
        if not q.text.strip():
            errors[f"{where}.text"] = [_("Required.")]
        if q.display not in Question.Display.values:
            errors[f"{where}.display"] = [_("numbers, stars or faces.")]
        if q.type == Question.Type.RATING:
            low = 1 if q.scale_min is None else q.scale_min
            high = 5 if q.scale_max is None else q.scale_max
            if not (0 <= low < high and high - low + 1 <= MAX_RATING_POINTS):
                errors[f"{where}.scale_max"] = [
                    _("A scale of 2 to %(n)d points, from 0 up.") % {"n": MAX_RATING_POINTS}
                ]
        elif q.type in FIXED_SCALES and (q.scale_min is not None or q.scale_max is not None):
            errors[f"{where}.scale_min"] = [_("This question type has a fixed scale.")]
        values = [str(c.get("value", "")) for c in q.choices] if isinstance(q.choices, list) else []
        if q.type in CHOICE_TYPES:
            if (
                not 2 <= len(values) <= MAX_CHOICES
                or len(set(values)) != len(values)
                or not all(
                    isinstance(c, dict)
                    and str(c.get("value", "")).strip()
                    and str(c.get("label", "")).strip()
                    for c in q.choices
                )
            ):
                errors[f"{where}.choices"] = [
                    _("2 to %(n)d choices, each with a distinct value and a label.")
                    % {"n": MAX_CHOICES}
                ]
        elif q.choices:
            errors[f"{where}.choices"] = [_("Only choice questions have choices.")]
        if q.show_if:
            target = seen.get(str(q.show_if.get("question", "")))
            wanted = q.show_if.get("in")
            if target is None:
                errors[f"{where}.show_if"] = [_("Name the key of an earlier question.")]
            elif target.type == Question.Type.TEXT:
                errors[f"{where}.show_if"] = [_("Skip logic cannot depend on free text.")]
            elif not isinstance(wanted, list) or not wanted:
                errors[f"{where}.show_if"] = [_("List the answers that show this question.")]
        if q.end_if:
            ending = q.end_if.get("in")
            if q.type == Question.Type.TEXT:
                errors[f"{where}.end_if"] = [_("A free-text answer cannot end the survey.")]
            elif not isinstance(ending, list) or not ending:
                errors[f"{where}.end_if"] = [_("List the answers that end the survey.")]
        _check_translations(
            q.translations,
            QUESTION_TEXT_FIELDS,
            f"{where}.translations",
            errors,
            choices=set(values),
        )
        seen[q.key] = q
    if errors:
        raise ValidationFailed(_("The questions are not valid."), field_errors=errors)


def survey_validate(values: dict[str, Any]) -> None:
    """Raise ValidationFailed (errors by field) for survey fields that create/update refuse."""
    _validate_survey_fields(values)


def questions_validate(questions: list[QuestionInput]) -> None:
    """Raise ValidationFailed (errors by `questions.<i>.<field>`) as survey_set_questions would."""
    _validate_questions(questions)


def _write_questions(survey: Survey, questions: list[QuestionInput]) -> None:
    Question.objects.bulk_create(
        Question(
            survey=survey,
            key=q.key,
            position=index,
            type=q.type,
            text=q.text.strip(),
            required=q.required,
            display=q.display,
            scale_min=q.scale_min,
            scale_max=q.scale_max,
            low_label=q.low_label,
            high_label=q.high_label,
            choices=q.choices,
            show_if=q.show_if,
            end_if=q.end_if,
            translations=q.translations,
        )
        for index, q in enumerate(questions)
    )


def _snapshot(survey: Survey) -> dict[str, Any]:
    return {name: getattr(survey, name) for name in ("kind", *SURVEY_FIELDS)}


# --- Services -------------------------------------------------------------------------------


def survey_create(
    *,
    workspace: Workspace,
    actor: Actor,
    kind: str,
    name: str,
    touchpoint: str,
    title: str,
    questions: list[QuestionInput] | None = None,
    **fields: Any,
) -> Survey:
    """Create a survey. NPS, CSAT and CES surveys get their standard questions (score, then
    "why?", in en/it/he) unless `questions` is given; a custom survey needs its questions.
    Other `fields`: see SURVEY_FIELDS."""
    if kind not in Survey.Kind.values:
        raise ValidationFailed(
            _("The survey is not valid."),
            field_errors={
                "kind": [_("Choose one of: %(v)s.") % {"v": ", ".join(Survey.Kind.values)}]
            },
        )
    unknown = set(fields) - set(SURVEY_FIELDS)
    if unknown:
        raise ValueError(f"Unknown survey fields: {sorted(unknown)}")
    values = {"name": name, "touchpoint": touchpoint, "title": title, **fields}
    _validate_survey_fields(values)
    items = questions if questions is not None else DEFAULT_QUESTIONS.get(kind, [])
    _validate_questions(items)
    survey = Survey.objects.create(workspace=workspace, kind=kind, **values)
    _write_questions(survey, items)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="survey.create",
        object_type="survey",
        object_id=survey.pk,
        changes={"name": survey.name, "kind": kind},
    )
    return survey


def survey_update(*, survey: Survey, actor: Actor, **fields: Any) -> Survey:
    """Change survey fields (SURVEY_FIELDS); questions change through survey_set_questions."""
    unknown = set(fields) - set(SURVEY_FIELDS)
    if unknown:
        raise ValueError(f"Unknown survey fields: {sorted(unknown)}")
    merged = {**_snapshot(survey), **fields}
    _validate_survey_fields(merged)
    before = _snapshot(survey)
    for name, value in fields.items():
        setattr(survey, name, value)
    survey.save()
    changes = diff(before, _snapshot(survey))
    if changes:
        audit_record(
            workspace=survey.workspace,
            actor=actor,
            action="survey.update",
            object_type="survey",
            object_id=survey.pk,
            changes=changes,
        )
    return survey


def survey_set_questions(
    *, survey: Survey, questions: list[QuestionInput], actor: Actor
) -> list[Question]:
    """Replace the survey's questions. Refused (Conflict) once it has responses: answers are
    keyed by question, so changing them under collected answers would corrupt the results.
    Copy the survey instead."""
    _validate_questions(questions)
    if (
        Response.objects.filter(survey=survey).exists()
        or Submission.objects.filter(invitation__survey=survey).exists()
    ):
        raise Conflict(
            _("The survey already has answers; create a new survey to change its questions.")
        )
    with transaction.atomic():
        Question.objects.filter(survey=survey).delete()
        _write_questions(survey, questions)
        # A new version: the questions cached per (survey, updated_at) are read afresh.
        survey.updated_at = timezone.now()
        Survey.objects.filter(pk=survey.pk).update(updated_at=survey.updated_at)
        definitions.forget(survey.pk)
    audit_record(
        workspace=survey.workspace,
        actor=actor,
        action="survey.questions",
        object_type="survey",
        object_id=survey.pk,
        changes={"questions": [q.key for q in questions]},
    )
    return list(survey.questions.order_by("position"))


def survey_delete(*, survey: Survey, actor: Actor) -> None:
    """Delete a survey nobody was invited to yet; otherwise deactivate it instead (Conflict)."""
    if survey.invitations.exists():
        raise Conflict(_("The survey has invitations; deactivate it instead of deleting it."))
    audit_record(
        workspace=survey.workspace,
        actor=actor,
        action="survey.delete",
        object_type="survey",
        object_id=survey.pk,
        changes={"name": survey.name},
    )
    survey.delete()


def settings_for(workspace: Workspace) -> SurveySettings:
    """The workspace's survey settings, created with the defaults on first use."""
    found, _created = SurveySettings.objects.get_or_create(workspace=workspace)
    return found


def settings_update(*, workspace: Workspace, actor: Actor, **fields: Any) -> SurveySettings:
    """Change survey settings: suppression_days, reminder_after_hours, followup_due_hours,
    followup_owner (a member or None), followup_rules, followup_on_negative_sentiment."""
    allowed = {
        "suppression_days",
        "reminder_after_hours",
        "followup_due_hours",
        "followup_owner",
        "followup_rules",
        "followup_on_negative_sentiment",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown settings: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    owner = fields.get("followup_owner")
    if (
        owner is not None
        and not Membership.objects.filter(workspace=workspace, user=owner).exists()
    ):
        errors["followup_owner"] = [_("Not a member of this workspace.")]
    if "followup_rules" in fields:
        errors.update(_rule_errors(workspace, fields["followup_rules"]))
    if fields.get("followup_due_hours", 1) < 1:
        errors["followup_due_hours"] = [_("At least one hour.")]
    if errors:
        raise ValidationFailed(_("The survey settings are not valid."), field_errors=errors)
    current = settings_for(workspace)
    before = {k: getattr(current, k) for k in fields}
    for name, value in fields.items():
        setattr(current, name, value)
    current.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action="survey.settings",
        object_type="survey_settings",
        object_id=current.pk,
        changes=diff(before, {k: getattr(current, k) for k in fields}),
    )
    return current


def _rule_errors(workspace: Workspace, rules: Any) -> dict[str, list[str]]:
    from ascolto.surveys.models import FollowUp

    if not isinstance(rules, list):
        return {"followup_rules": [_("A list of rules.")]}
    errors: dict[str, list[str]] = {}
    for index, rule in enumerate(rules):
        where = f"followup_rules.{index}"
        if not isinstance(rule, dict) or set(rule) - FOLLOWUP_RULE_KEYS:
            errors[where] = [_("Keys: %(k)s.") % {"k": ", ".join(sorted(FOLLOWUP_RULE_KEYS))}]
            continue
        if "touchpoint" in rule and rule["touchpoint"] not in Touchpoint.values:
            errors[f"{where}.touchpoint"] = [_("Unknown touchpoint.")]
        if "reason" in rule and rule["reason"] not in FollowUp.Reason.values:
            errors[f"{where}.reason"] = [_("Unknown reason.")]
        owner = rule.get("owner")
        if owner != "agent" and not (
            isinstance(owner, int)
            and Membership.objects.filter(workspace=workspace, user_id=owner).exists()
        ):
            errors[f"{where}.owner"] = [_('A member\'s user id, or "agent".')]
        due = rule.get("due_hours", 1)
        if not isinstance(due, int) or isinstance(due, bool) or due < 1:
            errors[f"{where}.due_hours"] = [_("Whole hours, at least one.")]
    return errors
