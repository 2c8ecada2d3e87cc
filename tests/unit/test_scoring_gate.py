"""The scoring gate on a real event loop and real threads: its bound, its order, its settings."""

from __future__ import annotations

import asyncio
import threading

import pytest
from pydantic import ValidationError

from serving.api.capacity import BULK, INTERACTIVE, ScoringBusy, ScoringGate
from serving.settings import Settings


def test_admits_up_to_threads_plus_queue_then_refuses():
    seen: list[int] = []
    gate = ScoringGate(max_concurrent=2, max_queued=1, on_change=seen.append)
    with gate.admit(), gate.admit(), gate.admit():
        assert gate.admitted == 3
        with pytest.raises(ScoringBusy, match=r"QUEUED_REQUESTS = 3\)"):
            with gate.admit():
                pass
    assert gate.admitted == 0
    assert seen == [1, 2, 3, 2, 1, 0]  # the refused request never counted


def test_waiting_single_tickets_go_before_waiting_batch_slices():
    async def scenario() -> list[str]:
        gate = ScoringGate(max_concurrent=1, max_queued=10)
        release = threading.Event()
        order: list[str] = []

        def work(name: str) -> str:
            if name == "first":
                release.wait(10)
            order.append(name)
            return name

        first = asyncio.create_task(gate.run(work, "first"))
        await asyncio.sleep(0.05)  # "first" holds the only thread
        waiting = [
            asyncio.create_task(gate.run(work, "slice-1", priority=BULK)),
            asyncio.create_task(gate.run(work, "slice-2", priority=BULK)),
            asyncio.create_task(gate.run(work, "single-1", priority=INTERACTIVE)),
            asyncio.create_task(gate.run(work, "single-2", priority=INTERACTIVE)),
        ]
        await asyncio.sleep(0.05)
        release.set()
        assert await asyncio.gather(first, *waiting) == ["first", "slice-1", "slice-2", "single-1", "single-2"]
        return order

    assert asyncio.run(scenario()) == ["first", "single-1", "single-2", "slice-1", "slice-2"]


def test_a_cancelled_waiter_gives_its_turn_on_and_errors_reach_the_caller():
    async def scenario() -> None:
        gate = ScoringGate(max_concurrent=1, max_queued=10)
        release = threading.Event()
        running = asyncio.create_task(gate.run(release.wait, 10))
        await asyncio.sleep(0.05)
        abandoned = asyncio.create_task(gate.run(sum, [1, 2]))
        kept = asyncio.create_task(gate.run(sum, [3, 4]))
        await asyncio.sleep(0.05)
        abandoned.cancel()  # the client went away while waiting
        release.set()
        assert await running is True
        assert await kept == 7
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        with pytest.raises(ZeroDivisionError):
            await gate.run(divmod, 1, 0)
        assert await gate.run(sum, [5]) == 5  # the thread came back each time

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TRIAGE_MAX_CONCURRENT_SCORING", "0"), ("TRIAGE_MAX_CONCURRENT_SCORING", "many"),
     ("TRIAGE_MAX_QUEUED_REQUESTS", "-1"), ("TRIAGE_SCORING_SLICE_ITEMS", "0")],
)
def test_bad_limits_fail_at_start_naming_the_setting(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("TRIAGE_").lower()):
        Settings()
