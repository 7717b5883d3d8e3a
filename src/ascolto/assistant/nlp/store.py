"""Saving and loading trained triage models as files, without pickle.

A model is one `.npz` file: its arrays plus a JSON header (`__meta__`) holding the format
version, the kind of model, when it was trained and with which library versions. Loading never
unpickles (`allow_pickle=False`), so a model file can at worst fail to load, never run code.

Layout under the store's root (the data dir's `models/` in the product):
`<scope>/<kind>.npz`, where scope is `global` or `workspace-<id>` and kind is `intent` or
`sentiment`. Writes go to a temporary file renamed into place, so a reader sees the old model or
the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 1
_META_KEY = "__meta__"


class ModelFileError(Exception):
    """A model file is missing, unreadable or of a format this version cannot load."""


@dataclass(frozen=True)
class StoredModel:
    meta: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]


def _library_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in ("numpy", "scipy", "scikit-learn")}


def save_arrays(
    path: Path, *, kind: str, meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> Path:
    """Write one model file atomically and return its path."""
    if _META_KEY in arrays:
        raise ValueError(f"{_META_KEY} is reserved.")
    header = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "libraries": _library_versions(),
        **meta,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(arrays)
    payload[_META_KEY] = np.array(json.dumps(header, sort_keys=True))
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **payload)  # type: ignore[arg-type]
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_arrays(path: Path, *, kind: str) -> StoredModel:
    """Read a model file written by `save_arrays`; ModelFileError says what is wrong."""
    if not path.is_file():
        raise ModelFileError(f"No model file at {path}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path} is not a readable model file ({error}).") from error
    if _META_KEY not in arrays:
        raise ModelFileError(f"{path} has no model header.")
    meta = json.loads(str(arrays.pop(_META_KEY)))
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format {version}; this version of Ascolto reads format "
            f"{FORMAT_VERSION}. Train the model again."
        )
    if meta.get("kind") != kind:
        raise ModelFileError(f"{path} holds a {meta.get('kind')} model, not a {kind} model.")
    return StoredModel(meta=meta, arrays=arrays)


class ModelStore:
    """Model files of every scope under one directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @staticmethod
    def scope_for(workspace_id: int | None) -> str:
        return "global" if workspace_id is None else f"workspace-{int(workspace_id)}"

    def path(self, kind: str, *, workspace_id: int | None = None) -> Path:
        if kind not in {"intent", "sentiment"}:
            raise ValueError(f"Unknown model kind {kind!r}.")
        return self.root / self.scope_for(workspace_id) / f"{kind}.npz"

    def exists(self, kind: str, *, workspace_id: int | None = None) -> bool:
        return self.path(kind, workspace_id=workspace_id).is_file()
