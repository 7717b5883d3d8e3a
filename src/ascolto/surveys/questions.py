"""Pure question logic: scales, answer validation, skip logic, pages, and localised texts.

No database access here: the services and the response page pass in questions already loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from ascolto.surveys.models import CES_RANGE, CSAT_RANGE, NPS_RANGE, Question, Survey

QType = Question.Type
SCALE_TYPES = frozenset({QType.NPS, QType.CSAT, QType.CES, QType.RATING})
CHOICE_TYPES = frozenset({QType.SINGLE_CHOICE, QType.MULTIPLE_CHOICE})
FIXED_SCALES: dict[str, tuple[int, int]] = {
    QType.NPS: NPS_RANGE,
    QType.CSAT: CSAT_RANGE,
    QType.CES: CES_RANGE,
}
DEFAULT_RATING = (1, 5)
MAX_TEXT_ANSWER = 5000
MAX_RATING_POINTS = 11

Answer = int | str | list[str] | None


class AnswerError(ValueError):
    """An answer that does not fit its question; the message is for the respondent."""


def scale(question: Question) -> tuple[int, int]:
    """The (lowest, highest) value of a scale question."""
    if question.type in FIXED_SCALES:
        return FIXED_SCALES[question.type]
    low = question.scale_min if question.scale_min is not None else DEFAULT_RATING[0]
    high = question.scale_max if question.scale_max is not None else DEFAULT_RATING[1]
    return low, high


def choice_values(question: Question) -> list[str]:
    return [str(c.get("value", "")) for c in question.choices if isinstance(c, dict)]


def clean_answer(question: Question, raw: Any) -> Answer:
    """The stored form of a raw answer (form strings or JSON), None when left blank.

    Raises AnswerError when the answer does not fit, or when a required question is blank.
    """
    value = _clean(question, raw)
    if value is None and question.required:
        raise AnswerError(_("Please answer this question."))
    return value


def _clean(question: Question, raw: Any) -> Answer:
    if raw is None or raw == "" or raw == []:
        return None
    if question.type in SCALE_TYPES:
        if isinstance(raw, bool):
            raise AnswerError(_("Choose a number on the scale."))
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise AnswerError(_("Choose a number on the scale.")) from None
        low, high = scale(question)
        if not low <= number <= high:
            raise AnswerError(
                _("Choose a number from %(low)d to %(high)d.") % {"low": low, "high": high}
            )
        return number
    if question.type == QType.SINGLE_CHOICE:
        if str(raw) not in choice_values(question):
            raise AnswerError(_("Choose one of the options."))
        return str(raw)
    if question.type == QType.MULTIPLE_CHOICE:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise AnswerError(_("Choose among the options."))
        allowed = choice_values(question)
        picked = [str(item) for item in items]
        if any(item not in allowed for item in picked):
            raise AnswerError(_("Choose among the options."))
        # Kept in the survey's order, each once, whatever order the form sent.
        return [value for value in allowed if value in picked] or None
    text = str(raw).replace("\x00", "").strip()
    if len(text) > MAX_TEXT_ANSWER:
        raise AnswerError(
            _("Please keep your answer under %(n)d characters.") % {"n": MAX_TEXT_ANSWER}
        )
    return text or None


def is_visible(question: Question, answers: Mapping[str, Any]) -> bool:
    """Skip logic: shown unless `show_if` names an earlier answer outside its list."""
    rule = question.show_if
    if not rule:
        return True
    given = answers.get(str(rule.get("question", "")))
    wanted = {str(v) for v in rule.get("in", [])}
    if given is None:
        return False
    if isinstance(given, list):
        return any(str(item) in wanted for item in given)
    return str(given) in wanted


def ends_here(question: Question, answers: Mapping[str, Any]) -> bool:
    """Skip logic: the survey ends after this question when its answer is in `end_if`."""
    rule = question.end_if
    given = answers.get(question.key)
    if not rule or given is None:
        return False
    wanted = {str(v) for v in rule.get("in", [])}
    if isinstance(given, list):
        return any(str(item) in wanted for item in given)
    return str(given) in wanted


def next_page(questions: Sequence[Question], answers: Mapping[str, Any]) -> list[Question]:
    """The questions to show next: from the first visible unseen question, up to (excluding)
    the first one whose visibility depends on an answer given on this same page — that one
    waits for the next page, so skip logic works without JavaScript — and up to (including) a
    question that may end the survey (`end_if`). Nothing after an answer that ended the
    survey. Empty when done."""
    page: list[Question] = []
    keys_on_page: set[str] = set()
    for question in questions:
        if question.key in answers:
            if ends_here(question, answers):
                break
            continue
        if page and question.show_if and question.show_if.get("question") in keys_on_page:
            break
        if not is_visible(question, answers):
            continue
        page.append(question)
        keys_on_page.add(question.key)
        if question.end_if:
            break
    return page


def scores(questions: Iterable[Question], answers: Mapping[str, Any]) -> dict[str, int | None]:
    """The nps/csat/ces score columns: the first answered question of each type."""
    found: dict[str, int | None] = {"nps": None, "csat": None, "ces": None}
    for question in questions:
        kind = str(question.type)
        if kind in found and found[kind] is None and isinstance(answers.get(question.key), int):
            found[kind] = answers[question.key]
    return found


def comment_of(questions: Iterable[Question], answers: Mapping[str, Any]) -> str:
    """The respondent's free-text comments joined (what sentiment and themes read)."""
    parts = [str(answers[q.key]) for q in questions if q.type == QType.TEXT and answers.get(q.key)]
    return "\n\n".join(parts)


# --- Localised texts -----------------------------------------------------------------------


def survey_text(survey: Survey, field: str, language: str) -> str:
    value = survey.translations.get(language, {}).get(field) if language else None
    return str(value) if value else str(getattr(survey, field))


@dataclass(frozen=True)
class ChoiceView:
    value: str
    label: str


@dataclass(frozen=True)
class QuestionView:
    """A question in one language, ready for a template."""

    question: Question
    text: str
    low_label: str
    high_label: str
    choices: list[ChoiceView]
    points: list[int]

    @property
    def key(self) -> str:
        return self.question.key

    @property
    def type(self) -> str:
        return str(self.question.type)


def localize(question: Question, language: str) -> QuestionView:
    texts = question.translations.get(language, {}) if language else {}
    choice_labels = texts.get("choices", {}) if isinstance(texts.get("choices"), dict) else {}
    choices = [
        ChoiceView(
            value=str(c.get("value", "")),
            label=str(choice_labels.get(str(c.get("value", ""))) or c.get("label", "")),
        )
        for c in question.choices
        if isinstance(c, dict)
    ]
    low, high = scale(question) if question.type in SCALE_TYPES else (0, -1)
    return QuestionView(
        question=question,
        text=str(texts.get("text") or question.text),
        low_label=str(texts.get("low_label") or question.low_label or _default_low(question)),
        high_label=str(texts.get("high_label") or question.high_label or _default_high(question)),
        choices=choices,
        points=list(range(low, high + 1)),
    )


def _default_low(question: Question) -> str:
    if question.type == QType.NPS:
        return _("Not at all likely")
    if question.type == QType.CSAT:
        return _("Very dissatisfied")
    if question.type == QType.CES:
        return _("Strongly disagree")
    return ""


def _default_high(question: Question) -> str:
    if question.type == QType.NPS:
        return _("Extremely likely")
    if question.type == QType.CSAT:
        return _("Very satisfied")
    if question.type == QType.CES:
        return _("Strongly agree")
    return ""
