"""The survey builder's form: posted fields to service inputs and back, without the database.

The editor posts one flat form: survey fields, `tr-<lang>-<field>` translations, and question
rows `q-<i>-<field>` (`q-<i>-tr-<lang>-<field>` for their translations). Rows are kept as plain
dicts so that a form with errors, or a row added, removed or moved, is shown again exactly as
typed. Validation itself is the services' (the same the API uses); this module only parses.

Skip logic in the editor reads "show this question only if the answer to <earlier question>
<is one of | is at most | is at least> <value>"; it is stored as the model's
`show_if = {"question": key, "in": [answers]}`, the comparisons expanded over the scale. "End
the survey after this answer if it <is one of | is at most | is at least> <value>" is stored
the same way about the question's own answer, as `end_if = {"in": [answers]}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.text import slugify
from django.utils.translation import gettext as _

from ascolto.surveys.models import LANGUAGES, Question, Survey
from ascolto.surveys.questions import CHOICE_TYPES, FIXED_SCALES, SCALE_TYPES
from ascolto.surveys.services import QuestionInput
from ascolto.surveys.services.surveys import SURVEY_FIELDS

Row = dict[str, Any]
ROW_FIELDS = (
    "key",
    "type",
    "text",
    "display",
    "scale_min",
    "scale_max",
    "low_label",
    "high_label",
    "choices",
    "if_question",
    "if_op",
    "if_value",
    "end_op",
    "end_value",
)
ROW_TEXTS = ("text", "low_label", "high_label", "choices")
SKIP_OPS = ("in", "lte", "gte")
MAX_ROWS = 50


def other_languages(survey: Survey) -> list[str]:
    return [code for code in LANGUAGES if code != survey.default_language]


# --- Questions <-> rows ---------------------------------------------------------------------


def _choices_text(question_choices: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(f"{c.get('value', '')} | {c.get('label', '')}" for c in question_choices)


def _scale_of(row: Row) -> tuple[int, int] | None:
    if row["type"] in FIXED_SCALES:
        return FIXED_SCALES[row["type"]]
    if row["type"] == Question.Type.RATING:
        try:
            return int(row["scale_min"] or 1), int(row["scale_max"] or 5)
        except ValueError:
            return None
    return None


def rows_of(questions: Sequence[Question]) -> list[Row]:
    """Editor rows for saved questions."""
    rows: list[Row] = []
    for question in questions:
        row: Row = {
            "key": question.key,
            "type": str(question.type),
            "text": question.text,
            "required": question.required,
            "display": str(question.display),
            "scale_min": "" if question.scale_min is None else str(question.scale_min),
            "scale_max": "" if question.scale_max is None else str(question.scale_max),
            "low_label": question.low_label,
            "high_label": question.high_label,
            "choices": _choices_text(question.choices),
            "if_question": "",
            "if_op": "in",
            "if_value": "",
            "end_op": "in",
            "end_value": "",
            "tr": {},
        }
        for language, texts in question.translations.items():
            labels = texts.get("choices") or {}
            row["tr"][language] = {
                "text": texts.get("text", ""),
                "low_label": texts.get("low_label", ""),
                "high_label": texts.get("high_label", ""),
                "choices": "\n".join(
                    str(labels.get(str(c.get("value")), "")) for c in question.choices
                )
                if labels
                else "",
            }
        rows.append(row)
    for row, question in zip(rows, questions, strict=True):
        if question.show_if:
            target = next((r for r in rows if r["key"] == question.show_if.get("question")), None)
            row["if_question"] = str(question.show_if.get("question", ""))
            row["if_op"], row["if_value"] = _describe(
                [str(v) for v in question.show_if.get("in", [])],
                _scale_of(target) if target else None,
            )
        if question.end_if:
            row["end_op"], row["end_value"] = _describe(
                [str(v) for v in question.end_if.get("in", [])], _scale_of(row)
            )
    return rows


def _describe(wanted: list[str], bounds: tuple[int, int] | None) -> tuple[str, str]:
    """An `in` list back as the editor's comparison where it reads as one."""
    if bounds and wanted and all(v.lstrip("-").isdigit() for v in wanted):
        numbers = sorted(int(v) for v in wanted)
        low, high = bounds
        if numbers == list(range(low, numbers[-1] + 1)) and numbers[-1] < high:
            return "lte", str(numbers[-1])
        if numbers == list(range(numbers[0], high + 1)) and numbers[0] > low:
            return "gte", str(numbers[0])
    return "in", ", ".join(wanted)


def empty_row(index: int) -> Row:
    return {
        "key": f"q{index + 1}",
        "type": str(Question.Type.TEXT),
        "text": "",
        "required": False,
        "display": str(Question.Display.NUMBERS),
        "scale_min": "",
        "scale_max": "",
        "low_label": "",
        "high_label": "",
        "choices": "",
        "if_question": "",
        "if_op": "in",
        "if_value": "",
        "end_op": "in",
        "end_value": "",
        "tr": {},
    }


def rows_from_post(data: Mapping[str, Any]) -> list[Row]:
    try:
        count = min(int(data.get("qn", 0)), MAX_ROWS)
    except (TypeError, ValueError):
        count = 0
    rows: list[Row] = []
    for i in range(count):
        prefix = f"q-{i}-"
        row: Row = {name: str(data.get(prefix + name, "")).strip() for name in ROW_FIELDS}
        row["required"] = data.get(prefix + "required") == "on"
        row["if_op"] = row["if_op"] if row["if_op"] in SKIP_OPS else "in"
        row["end_op"] = row["end_op"] if row["end_op"] in SKIP_OPS else "in"
        row["tr"] = {
            language: {
                name: str(data.get(f"{prefix}tr-{language}-{name}", "")).strip()
                for name in ROW_TEXTS
            }
            for language in LANGUAGES
        }
        rows.append(row)
    return rows


def _parse_choices(text: str) -> list[dict[str, str]]:
    choices = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, sep, label = line.partition("|")
        if not sep:
            label, value = value, slugify(value)[:40]
        choices.append({"value": value.strip(), "label": label.strip()})
    return choices


def _int_or_none(text: str, where: str, errors: dict[str, list[str]]) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors[where] = [_("A whole number.")]
        return None


def questions_from_rows(
    rows: Sequence[Row], default_language: str
) -> tuple[list[QuestionInput], dict[str, list[str]]]:
    """Service inputs from editor rows, and the errors only the form can see (numbers that are
    not numbers, comparisons on a question without a scale); keys as the services' errors."""
    errors: dict[str, list[str]] = {}
    items: list[QuestionInput] = []
    for index, row in enumerate(rows):
        where = f"questions.{index}"
        choices = _parse_choices(row["choices"]) if row["type"] in CHOICE_TYPES else []
        values = [c["value"] for c in choices]
        translations: dict[str, dict[str, Any]] = {}
        for language, texts in row["tr"].items():
            if language == default_language:
                continue
            found: dict[str, Any] = {
                name: texts[name] for name in ("text", "low_label", "high_label") if texts[name]
            }
            labels = [line.strip() for line in texts["choices"].splitlines()]
            if choices and any(labels):
                found["choices"] = {v: lab for v, lab in zip(values, labels, strict=False) if lab}
            if found:
                translations[language] = found
        show_if: dict[str, Any] = {}
        if row["if_question"]:
            wanted = [v.strip() for v in row["if_value"].split(",") if v.strip()]
            if row["if_op"] != "in":
                target = next((r for r in rows[:index] if r["key"] == row["if_question"]), None)
                bounds = _scale_of(target) if target else None
                limit = _int_or_none(row["if_value"], f"{where}.show_if", errors)
                if target is not None and bounds is None:
                    errors[f"{where}.show_if"] = [
                        _("“At most” and “at least” need a question with a scale.")
                    ]
                elif bounds is not None and limit is not None:
                    low, high = bounds
                    span = (
                        range(low, limit + 1) if row["if_op"] == "lte" else range(limit, high + 1)
                    )
                    wanted = [str(v) for v in span if low <= v <= high]
            show_if = {"question": row["if_question"], "in": wanted}
        end_if: dict[str, Any] = {}
        if row["end_value"]:
            ending = [v.strip() for v in row["end_value"].split(",") if v.strip()]
            if row["end_op"] != "in":
                bounds = _scale_of(row)
                limit = _int_or_none(row["end_value"], f"{where}.end_if", errors)
                if bounds is None:
                    errors[f"{where}.end_if"] = [
                        _("“At most” and “at least” need a question with a scale.")
                    ]
                elif limit is not None:
                    low, high = bounds
                    span = (
                        range(low, limit + 1) if row["end_op"] == "lte" else range(limit, high + 1)
                    )
                    ending = [str(v) for v in span if low <= v <= high]
            end_if = {"in": ending}
        items.append(
            QuestionInput(
                key=row["key"],
                type=row["type"],
                text=row["text"],
                required=bool(row["required"]),
                display=row["display"] or Question.Display.NUMBERS,
                scale_min=_int_or_none(row["scale_min"], f"{where}.scale_min", errors)
                if row["type"] == Question.Type.RATING
                else None,
                scale_max=_int_or_none(row["scale_max"], f"{where}.scale_max", errors)
                if row["type"] == Question.Type.RATING
                else None,
                low_label=row["low_label"] if row["type"] in SCALE_TYPES else "",
                high_label=row["high_label"] if row["type"] in SCALE_TYPES else "",
                choices=choices,
                show_if=show_if,
                end_if=end_if,
                translations=translations,
            )
        )
    return items, errors


def move(rows: list[Row], action: str) -> list[Row]:
    """Apply an editor button (`add`, `remove-<i>`, `up-<i>`, `down-<i>`) to the rows."""
    name, _sep, number = action.partition("-")
    if name == "add" and len(rows) < MAX_ROWS:
        keys = {r["key"] for r in rows}
        index = len(rows)
        while empty_row(index)["key"] in keys:
            index += 1
        return [*rows, empty_row(index)]
    if not number.isdigit() or int(number) >= len(rows):
        return rows
    i = int(number)
    moved = list(rows)
    if name == "remove":
        del moved[i]
    elif name == "up" and i > 0:
        moved[i - 1], moved[i] = moved[i], moved[i - 1]
    elif name == "down" and i < len(rows) - 1:
        moved[i + 1], moved[i] = moved[i], moved[i + 1]
    return moved


# --- Survey fields --------------------------------------------------------------------------


def survey_values(survey: Survey) -> dict[str, Any]:
    """The editor's survey fields as strings, from the saved survey."""
    return {
        "name": survey.name,
        "touchpoint": survey.touchpoint,
        "default_language": survey.default_language,
        "title": survey.title,
        "intro": survey.intro,
        "thanks": survey.thanks,
        "tr": {
            language: {
                name: survey.translations.get(language, {}).get(name, "")
                for name in ("title", "intro", "thanks")
            }
            for language in LANGUAGES
        },
        "trigger": survey.trigger,
        "delay_minutes": str(survey.delay_minutes),
        "trigger_channels": list(survey.trigger_channels),
        "relational_every_days": str(survey.relational_every_days),
        "sampling_percent": f"{survey.sampling_rate * 100:g}",
        "expiry_days": str(survey.expiry_days),
    }


def survey_values_of(survey: Survey) -> dict[str, Any]:
    """The saved survey's fields as the services take them (what a partial form leaves)."""
    return {name: getattr(survey, name) for name in SURVEY_FIELDS}


def survey_values_from_post(data: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: str(data.get(name, "")).strip()
        for name in (
            "name",
            "touchpoint",
            "default_language",
            "title",
            "intro",
            "thanks",
            "trigger",
            "delay_minutes",
            "relational_every_days",
            "sampling_percent",
            "expiry_days",
        )
    }
    values["trigger_channels"] = list(data.getlist("trigger_channels"))
    values["tr"] = {
        language: {
            name: str(data.get(f"tr-{language}-{name}", "")).strip()
            for name in ("title", "intro", "thanks")
        }
        for language in LANGUAGES
    }
    return values


def survey_fields(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Service keyword arguments (SURVEY_FIELDS) from editor values, and number errors."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {
        name: values[name]
        for name in ("name", "touchpoint", "default_language", "title", "intro", "thanks")
    }
    fields["trigger"] = values["trigger"]
    fields["trigger_channels"] = values["trigger_channels"]
    for name in ("delay_minutes", "relational_every_days", "expiry_days"):
        number = _int_or_none(values[name], name, errors)
        if number is None and name not in errors:
            errors[name] = [_("Required.")]
        elif number is not None and number < 0:
            errors[name] = [_("Zero or more.")]
        elif number is not None:
            fields[name] = number
    try:
        fields["sampling_rate"] = float(values["sampling_percent"]) / 100
    except ValueError:
        errors["sampling_rate"] = [_("A percentage from 0 to 100.")]
    fields["translations"] = {
        language: {name: text for name, text in texts.items() if text}
        for language, texts in values["tr"].items()
        if language != values["default_language"] and any(texts.values())
    }
    return fields, errors
