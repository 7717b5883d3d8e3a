"""Input coercion shared by the value models: plain iterables in, validated float arrays out."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class InvalidInput(ValueError):
    """The numbers handed to a model cannot describe customers (negative counts, NaN, ...)."""


def as_float_array(values: Iterable[float] | FloatArray, name: str) -> FloatArray:
    """Return `values` as a 1-d float64 array; raise InvalidInput for NaN, inf or a bad shape."""
    try:
        array = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be numbers") from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{name} must be finite numbers")
    return array


def same_length(**arrays: FloatArray) -> int:
    """Return the common length of `arrays`; raise InvalidInput when they differ."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise InvalidInput(f"inputs must have the same length ({detail})")
    return next(iter(lengths.values()), 0)
