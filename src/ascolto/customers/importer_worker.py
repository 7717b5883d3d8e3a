"""Entry points of the validation worker processes.

This module imports nothing from Django at import time: a spawned worker unpickles these
functions before Django is set up, and sets it up in `init` before validating anything.
"""

from __future__ import annotations

import os
from typing import Any

_validate: Any = None


def init(specs: list[Any]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascolto.config.settings")
    import django

    django.setup()
    from ascolto.customers.importer import validate_chunk
    from ascolto.customers.importer_rows import RowValidator

    global _validate
    validator = RowValidator(specs)
    _validate = lambda chunk: validate_chunk(chunk, validator)  # noqa: E731


def validate(chunk: Any) -> Any:
    return _validate(chunk)
