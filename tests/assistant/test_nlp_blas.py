"""Per-message and per-query products run with one BLAS thread, and the setting is restored."""

from __future__ import annotations

import pytest

from ascolto.assistant.nlp.embedding import one_blas_thread

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    return [
        int(pool["num_threads"])
        for pool in threadpoolctl.threadpool_info()
        if pool["user_api"] == "blas"
    ]


def test_one_blas_thread_inside_and_the_previous_setting_after() -> None:
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()

        with one_blas_thread():
            inside = _blas_threads()

        assert inside
        assert set(inside) == {1}
        assert _blas_threads() == before


def test_entering_again_inside_keeps_one_thread_until_the_outer_context_ends() -> None:
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()

        with one_blas_thread():
            with one_blas_thread():
                nested = _blas_threads()
            after_inner = _blas_threads()

        assert set(nested) == {1}
        assert set(after_inner) == {1}
        assert _blas_threads() == before
