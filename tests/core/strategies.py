"""Hypothesis strategies for values a row can hold in PostgreSQL and SQLite alike."""

from __future__ import annotations

from hypothesis import strategies as st

# PostgreSQL stores no NUL character in text or JSON, whichever way it is sent.
NO_NUL = st.characters(blacklist_characters="\x00", codec="utf-8")


def texts(max_size: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet=NO_NUL, max_size=max_size)


def json_objects(max_size: int) -> st.SearchStrategy[dict[str, object]]:
    """Flat JSON objects with every scalar kind as values."""
    return st.dictionaries(
        texts(max_size=5),
        st.one_of(st.none(), st.booleans(), st.integers(), texts(max_size=10)),
        max_size=max_size,
    )
