"""The condition language of rules: JSON, checked once, compiled to Python closures (no eval).

A condition is one of
    {"all": [cond, ...]}   every one holds (an empty list holds)
    {"any": [cond, ...]}   at least one holds
    {"not": cond}
    {"field": "customer.value_tier", "op": "in", "value": ["gold", "platinum"]}
Fields are dotted paths into the evaluation context: `customer.*` (name, locale, value_tier,
timezone, orders_count, lifetime_spend, days_since_last_order, attributes.<key>), `event.*`
(type, payload.<key>), `order.*` (status, total, currency, external_id, metadata.<key>),
`consent.<purpose>` (true when granted on any channel). A missing field is None: only `exists`
and `ne` hold then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ascolto.core.errors import ValidationFailed

Predicate = Callable[[Mapping[str, Any]], bool]

ROOTS = ("customer", "event", "order", "consent")
MAX_DEPTH = 8
MAX_NODES = 200
_MISSING = object()


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _compare(op: str) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: Any) -> bool:
        left, right = _number(actual), _number(expected)
        if left is None or right is None:
            return False
        if op == "gt":
            return left > right
        if op == "gte":
            return left >= right
        if op == "lt":
            return left < right
        return left <= right

    return compare


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected.lower() in actual.lower()
    if isinstance(actual, list):
        return expected in actual
    return False


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, e: a is not _MISSING and a == e,
    "ne": lambda a, e: a is _MISSING or a != e,
    "in": lambda a, e: a is not _MISSING and a in e,
    "not_in": lambda a, e: a is _MISSING or a not in e,
    "gt": _compare("gt"),
    "gte": _compare("gte"),
    "lt": _compare("lt"),
    "lte": _compare("lte"),
    "contains": _contains,
    "exists": lambda a, e: (a is not _MISSING and a is not None and a != "") is bool(e),
}


def _resolve(path: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    # Specialised for the common depths: evaluation speed is the rules' throughput.
    if len(path) == 2:
        root, key = path

        def resolve_two(context: Mapping[str, Any]) -> Any:
            value = context.get(root)
            return value.get(key, _MISSING) if isinstance(value, dict) else _MISSING

        return resolve_two

    def resolve(context: Mapping[str, Any]) -> Any:
        value: Any = context
        for part in path:
            if not isinstance(value, Mapping):
                return _MISSING
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return _MISSING
        return value

    return resolve


def compile_conditions(condition: Any) -> Predicate:
    """Check a condition and return its predicate. Raises ValidationFailed naming the path of
    the first mistake (`conditions.all.1.op`)."""
    nodes = [0]
    return _compile(condition, "conditions", 0, nodes)


def _fail(path: str, message: str) -> ValidationFailed:
    return ValidationFailed("The rule's conditions are not valid.", field_errors={path: [message]})


def _compile(node: Any, path: str, depth: int, nodes: list[int]) -> Predicate:
    nodes[0] += 1
    if nodes[0] > MAX_NODES:
        raise _fail(path, f"At most {MAX_NODES} conditions.")
    if depth > MAX_DEPTH:
        raise _fail(path, f"At most {MAX_DEPTH} levels of nesting.")
    if not isinstance(node, dict):
        raise _fail(path, "Expected an object.")
    if node == {}:
        return lambda context: True
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if set(node) != {key} or not isinstance(node[key], list):
            raise _fail(path, f'"{key}" takes a list of conditions and nothing beside it.')
        parts = [
            _compile(child, f"{path}.{key}.{i}", depth + 1, nodes)
            for i, child in enumerate(node[key])
        ]
        if key == "all":
            return lambda context: all(part(context) for part in parts)
        return lambda context: any(part(context) for part in parts)
    if "not" in node:
        if set(node) != {"not"}:
            raise _fail(path, '"not" takes one condition and nothing beside it.')
        inner = _compile(node["not"], f"{path}.not", depth + 1, nodes)
        return lambda context: not inner(context)
    return _leaf(node, path)


def _leaf(node: dict[str, Any], path: str) -> Predicate:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        raise _fail(path, f"Unknown keys: {', '.join(sorted(unknown))}.")
    field = node.get("field")
    if not isinstance(field, str) or not field:
        raise _fail(f"{path}.field", "A dotted field name such as customer.value_tier.")
    parts = tuple(field.split("."))
    if parts[0] not in ROOTS or len(parts) < 2 or not all(parts):
        raise _fail(f"{path}.field", f"Fields start with one of: {', '.join(ROOTS)}.")
    op = node.get("op", "eq")
    compare = OPERATORS.get(op) if isinstance(op, str) else None
    if compare is None:
        raise _fail(f"{path}.op", f"Choose one of: {', '.join(OPERATORS)}.")
    expected = node.get("value", True if op == "exists" else None)
    if op in ("in", "not_in"):
        if not isinstance(expected, list):
            raise _fail(f"{path}.value", "A list of values.")
        hashable = all(isinstance(v, str | int | float | bool) or v is None for v in expected)
        expected = frozenset(expected) if hashable else expected
    if op in ("gt", "gte", "lt", "lte") and _number(expected) is None:
        raise _fail(f"{path}.value", "A number.")
    resolve = _resolve(parts)
    bound = expected
    if op == "eq":
        return lambda context: resolve(context) == bound
    if op == "in" and isinstance(bound, frozenset):
        return lambda context: _in(resolve(context), bound)
    return lambda context: compare(resolve(context), bound)


def _in(value: Any, options: frozenset[Any]) -> bool:
    try:
        return value in options
    except TypeError:  # an unhashable value (a list attribute) is in no set of scalars
        return False
