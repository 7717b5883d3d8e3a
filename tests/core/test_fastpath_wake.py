"""The fast paths wake the worker after their commits: at most once per interval, never
losing the last kick."""

from __future__ import annotations

import asyncio
import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ascolto.core.fastpath import wake_on_kick


@pytest.mark.asyncio
async def test_many_kicks_make_few_wake_ups_and_the_last_kick_is_never_lost() -> None:
    wake_ups: list[float] = []
    kick = asyncio.Event()
    with ThreadPoolExecutor(1) as executor:
        task = asyncio.create_task(
            wake_on_kick(kick, lambda: wake_ups.append(time.monotonic()), executor, interval=0.05)
        )
        try:
            started = time.monotonic()
            for _ in range(40):  # a kick every 5 ms for 0.2 s
                last_kick = time.monotonic()
                kick.set()
                await asyncio.sleep(0.005)
            deadline = last_kick + 5
            while not (wake_ups and wake_ups[-1] >= last_kick) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # and nothing more comes of kicks already served
        finally:
            task.cancel()
    elapsed = last_kick - started
    # One at the first kick, then at most one per interval; not one per kick.
    assert 2 <= len(wake_ups) <= elapsed / 0.05 + 2
    # The kicks of the last pause were kept: a wake-up followed the last kick.
    assert wake_ups[-1] >= last_kick
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(wake_ups))


@pytest.mark.asyncio
async def test_without_a_kick_the_worker_is_not_woken() -> None:
    wake_ups: list[float] = []
    with ThreadPoolExecutor(1) as executor:
        task = asyncio.create_task(
            wake_on_kick(asyncio.Event(), lambda: wake_ups.append(0.0), executor, interval=0.01)
        )
        await asyncio.sleep(0.1)
        task.cancel()
    assert wake_ups == []
