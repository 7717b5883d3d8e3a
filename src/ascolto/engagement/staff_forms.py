"""The rule builder's form: condition rows and action rows posted as flat fields, turned into
the JSON the rule services take, and back (a saved rule shown as rows to edit).

Rows are `cond-<i>-field|op|value` and `action-<i>-type|<param>`; `cond_rows`/`action_rows`
say how many were shown. `mode` is "all", "any" or "json" (the raw conditions in
`conditions_json`, for nesting the rows cannot express).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from django.http import QueryDict

from ascolto.engagement.action_types import ACTIONS, ActionType
from ascolto.engagement.models import Rule
from ascolto.engagement.rules import OPERATORS

MAX_ROWS = 50
# The condition fields rules.py documents; keyed ones (attributes.<key>) are typed in full.
FIELDS = (
    "customer.name",
    "customer.locale",
    "customer.timezone",
    "customer.value_tier",
    "customer.orders_count",
    "customer.lifetime_spend",
    "customer.attributes.",
    "event.type",
    "event.name",
    "event.payload.",
    "order.status",
    "order.total",
    "order.currency",
    "order.external_id",
    "order.metadata.",
    "consent.service",
    "consent.marketing",
)
LIST_OPS = ("in", "not_in")


@dataclass
class ConditionRow:
    field: str = ""
    op: str = "eq"
    value: str = ""
    errors: dict[str, list[str]] = dc_field(default_factory=dict)


@dataclass
class ActionRow:
    type: str = "send_message"
    params: dict[str, str] = dc_field(default_factory=dict)
    errors: dict[str, list[str]] = dc_field(default_factory=dict)

    @property
    def kind(self) -> ActionType | None:
        return ACTIONS.get(self.type)


@dataclass
class Builder:
    name: str = ""
    trigger: str = ""
    purpose: str = "service"
    is_active: bool = True
    mode: str = "all"
    conditions_json: str = "{}"
    trigger_config_json: str = ""
    holdout: str = "0"
    conditions: list[ConditionRow] = dc_field(default_factory=list)
    actions: list[ActionRow] = dc_field(default_factory=lambda: [ActionRow()])


def _count(data: QueryDict, key: str) -> int:
    try:
        return max(0, min(int(data.get(key, "0")), MAX_ROWS))
    except ValueError:
        return 0


def builder_from_post(data: QueryDict) -> Builder:
    """The form as posted, rows kept in order even when half filled (shown again on error)."""
    form = Builder(
        name=data.get("name", ""),
        trigger=data.get("trigger", ""),
        purpose=data.get("purpose", "service"),
        is_active=data.get("is_active") == "on",
        mode=data.get("mode", "all") if data.get("mode") in ("all", "any", "json") else "all",
        conditions_json=data.get("conditions_json", "{}"),
        trigger_config_json=data.get("trigger_config_json", ""),
        holdout=data.get("holdout_percent", "0").strip() or "0",
        conditions=[],
        actions=[],
    )
    for i in range(_count(data, "cond_rows")):
        row = ConditionRow(
            field=data.get(f"cond-{i}-field", "").strip(),
            op=data.get(f"cond-{i}-op", "eq"),
            value=data.get(f"cond-{i}-value", ""),
        )
        if not data.get(f"cond-{i}-remove") and (row.field or row.value):
            form.conditions.append(row)
    for i in range(_count(data, "action_rows")):
        kind = data.get(f"action-{i}-type", "")
        if data.get(f"action-{i}-remove") or not kind:
            continue
        params = {
            p.name: data.get(f"action-{i}-{p.name}", "") for a in ACTIONS.values() for p in a.params
        }
        form.actions.append(ActionRow(type=kind, params=params))
    return form


def _value(op: str, text: str) -> Any:
    if op == "exists":
        return text.strip().lower() not in ("false", "no", "0")
    if op in LIST_OPS:
        return [_scalar(part.strip()) for part in text.split(",") if part.strip()]
    return _scalar(text.strip())


def _scalar(text: str) -> Any:
    """Numbers and true/false as JSON reads them; anything else is the text itself."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if isinstance(parsed, int | float | bool) else text


def conditions_of(form: Builder) -> Any:
    """The conditions JSON; raw JSON that does not parse is returned as the text so the
    service's check rejects it with a clear message."""
    if form.mode == "json":
        try:
            return json.loads(form.conditions_json or "{}")
        except ValueError:
            return form.conditions_json
    leaves = [
        {"field": row.field, "op": row.op, "value": _value(row.op, row.value)}
        for row in form.conditions
    ]
    return {form.mode: leaves} if leaves else {}


def trigger_settings_of(form: Builder) -> Any:
    """The trigger's settings (schedule, date): JSON text, or None when left empty. Text that
    does not parse is returned as is, for the service's check to name."""
    text = form.trigger_config_json.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def holdout_of(form: Builder) -> int:
    """The hold-out share; what is not a whole number becomes -1, which the service refuses
    with a message next to the field."""
    return int(form.holdout) if form.holdout.isdigit() else -1


def actions_of(form: Builder) -> list[dict[str, Any]]:
    result = []
    for row in form.actions:
        action: dict[str, Any] = {"type": row.type}
        kind = ACTIONS.get(row.type)
        for param in kind.params if kind else ():
            value: Any = row.params.get(param.name, "")
            if param.number and value.strip().isdigit():
                value = int(value.strip())
            if value or param.required:
                action[param.name] = value
        result.append(action)
    return result


def _row_of(leaf: Any) -> ConditionRow | None:
    if not isinstance(leaf, dict) or set(leaf) != {"field", "op", "value"}:
        return None
    if not isinstance(leaf["field"], str) or leaf["op"] not in OPERATORS:
        return None
    value = leaf["value"]
    if isinstance(value, list) and leaf["op"] in LIST_OPS:
        text = ", ".join(json.dumps(v) if not isinstance(v, str) else v for v in value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        return None
    return ConditionRow(field=leaf["field"], op=leaf["op"], value=text)


def builder_from_rule(rule: Rule | None) -> Builder:
    if rule is None:
        return Builder()
    form = Builder(
        name=rule.name,
        trigger=rule.trigger,
        purpose=rule.purpose,
        is_active=rule.is_active,
        conditions_json=json.dumps(rule.conditions, indent=2, ensure_ascii=False),
        trigger_config_json=(
            json.dumps(rule.trigger_config, ensure_ascii=False) if rule.trigger_config else ""
        ),
        holdout=str(rule.holdout_percent),
        actions=[
            ActionRow(
                type=str(a.get("type", "")),
                params={k: str(v) for k, v in a.items() if k != "type" and v is not None},
            )
            for a in rule.actions
        ],
    )
    conditions = rule.conditions or {}
    group = next((k for k in ("all", "any") if set(conditions) == {k}), None)
    leaves = conditions[group] if group else ([conditions] if conditions else [])
    rows = [_row_of(leaf) for leaf in leaves] if isinstance(leaves, list) else [None]
    if any(row is None for row in rows):
        form.mode = "json"
    else:
        form.mode = group or "all"
        form.conditions = [row for row in rows if row is not None]
    return form


def errors_by_row(field_errors: dict[str, list[str]], form: Builder) -> dict[str, list[str]]:
    """Service error paths (`conditions.all.1.op`, `actions.0.template`) keyed to the form's
    row fields (`cond-1-op`, `action-0-template`); anything else stays as it is."""
    mapped: dict[str, list[str]] = {}
    for path, messages in field_errors.items():
        parts = path.split(".")
        key = path
        if form.mode != "json" and parts[:2] in (["conditions", "all"], ["conditions", "any"]):
            if len(parts) >= 3 and parts[2].isdigit():
                key = f"cond-{parts[2]}-{parts[3] if len(parts) > 3 else 'field'}"
        elif parts[0] == "conditions":
            key = "conditions_json"
        elif parts[0] == "trigger_config":
            key = "trigger_config_json"
        elif parts[0] == "actions" and len(parts) >= 3 and parts[1].isdigit():
            key = f"action-{parts[1]}-{parts[2]}"
        mapped.setdefault(key, []).extend(messages)
    return mapped


def attach_errors(form: Builder, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Put row errors on their rows (`cond-1-op` on row 1 as "op"); return the rest."""
    rest: dict[str, list[str]] = {}
    for key, messages in errors.items():
        parts = key.split("-", 2)
        rows: list[Any] = (
            form.conditions if parts[0] == "cond" else form.actions if parts[0] == "action" else []
        )
        if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            rows[int(parts[1])].errors.setdefault(parts[2], []).extend(messages)
        else:
            rest.setdefault(key.replace("-", "_"), []).extend(messages)
    return rest
