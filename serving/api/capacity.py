"""Scoring off the event loop, a few threads at a time, behind a bounded queue where single tickets go first.

Scoring is CPU work: run on the event loop it holds up every other request, /healthz included. Here it
runs in worker threads, at most ``max_concurrent`` at once, and a request that finds the queue full is
refused at once with 503 rather than left waiting without bound. Batches are scored in slices that
queue behind waiting single tickets, so the help widget never waits behind a backlog upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")

RETRY_AFTER_S = 1  # a 1,000-ticket batch is scored in well under a second, so the queue moves by then
INTERACTIVE = 0  # a single ticket: someone is waiting for it
BULK = 1  # a slice of a batch


class ScoringBusy(Exception):
    """Every scoring thread is busy and the queue of waiting requests is full."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the scoring queue is full (TRIAGE_MAX_CONCURRENT_SCORING + TRIAGE_MAX_QUEUED_REQUESTS = {limit}); retry shortly"
        )
        self.limit = limit


class ScoringGate:
    """Admits scoring requests up to a bound and runs their work in a few threads, lower priority first.

    Must be made and used on one event loop (the server's); nothing here is shared between threads.

    Args:
        max_concurrent: threads scoring at once.
        max_queued: admitted requests that may wait beyond those being scored.
        on_change: called with the number of admitted requests whenever it changes (a metrics gauge).
    """

    def __init__(self, max_concurrent: int, max_queued: int, on_change: Callable[[int], None] | None = None) -> None:
        self.limit = max_concurrent + max_queued
        self._threads = CapacityLimiter(max_concurrent)  # anyio's default pool is shared with everything else
        self._free = max_concurrent
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # a heap: (priority, arrival, wake-up)
        self._arrivals = itertools.count()
        self._admitted = 0
        self._on_change = on_change

    @property
    def admitted(self) -> int:
        """Requests scoring or waiting to score now."""
        return self._admitted

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place for one request (a single ticket or a whole batch) while it scores.

        The check and the count happen on the event loop with no await between them, so two requests
        cannot both take the last place.

        Raises:
            ScoringBusy: when ``limit`` requests are already admitted.
        """
        if self._admitted >= self.limit:
            raise ScoringBusy(self.limit)
        self._change(+1)
        try:
            yield
        finally:
            self._change(-1)

    async def run(self, function: Callable[..., T], *args: Any, priority: int = BULK) -> T:
        """Run ``function(*args)`` in a worker thread once a scoring thread is free.

        Args:
            function: the CPU work; it must not touch the event loop.
            args: its arguments.
            priority: ``INTERACTIVE`` work is started before any waiting ``BULK`` work; equal
                priorities start in arrival order.

        Returns:
            What ``function`` returned; what it raised is raised here.
        """
        async with self._turn(priority):
            return await anyio.to_thread.run_sync(function, *args, limiter=self._threads)

    @contextlib.asynccontextmanager
    async def _turn(self, priority: int) -> AsyncIterator[None]:
        """Wait for a free thread; the heap decides who gets the next one."""
        if self._free and not self._waiting:
            self._free -= 1
        else:
            wake = asyncio.get_running_loop().create_future()
            entry = (priority, next(self._arrivals), wake)
            heapq.heappush(self._waiting, entry)
            try:
                await wake
            except asyncio.CancelledError:
                if wake.done() and not wake.cancelled():
                    self._hand_on()  # woken and cancelled at once: pass the thread on
                else:
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
                raise
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        """Give a finished turn's thread to the first waiter, or mark it free."""
        while self._waiting:
            _, _, wake = heapq.heappop(self._waiting)
            if not wake.done():
                wake.set_result(None)
                return
        self._free += 1

    def _change(self, delta: int) -> None:
        self._admitted += delta
        if self._on_change is not None:
            self._on_change(self._admitted)
