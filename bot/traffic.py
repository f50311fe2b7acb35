"""Slack's requests in flight, and the background work that gives way to them.

Acknowledging a click takes a fraction of a millisecond of Python; deciding it (the flow,
storage, the message update) takes tens. With one GIL, two threads deciding make every
request thread wait for its turn at each step, and a burst of clicks is acknowledged slowly
although each ack is cheap. So the decisions, and the review surface's rendering, wait while
a request is in flight, for at most `give_way` seconds each: acks leave first, and the work
after them still starts within a bounded delay however busy Slack keeps the app.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

GIVE_WAY = 1.0
SETTLE = 0.02


class Traffic:
    """Slack's requests being answered right now. It is quiet when none has been in flight
    for `settle` seconds: within a burst, the gaps between requests are shorter."""

    def __init__(self, settle: float = SETTLE) -> None:
        self.cond = threading.Condition()
        self.settle = settle
        self._active = 0
        self._last = -settle

    @contextmanager
    def request(self) -> Iterator[None]:
        with self.cond:
            self._active += 1
        try:
            yield
        finally:
            with self.cond:
                self._active -= 1
                self._last = time.monotonic()
                if self._active == 0:
                    self.cond.notify_all()

    def quiet_in(self) -> float | None:
        """Seconds until it is quiet if no request comes meanwhile (0: quiet now), or None
        while a request is in flight. The caller holds `cond`."""
        if self._active:
            return None
        return max(0.0, self._last + self.settle - time.monotonic())

    def wait_quiet(self, timeout: float) -> bool:
        """Wait until it is quiet, for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                until_quiet = self.quiet_in()
                if until_quiet == 0:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left if until_quiet is None else min(left, until_quiet))


@dataclass(order=True, slots=True)
class _Job:
    waited_for: bool  # False sorts first: a request is waiting for this one
    due: float  # when it runs even if requests are still in flight
    seq: int
    work: Callable[[], Any] = field(compare=False)
    future: Future[Any] = field(compare=False)


class DecisionQueue:
    """Work handed over by the listeners, run by `workers` threads in the order it falls due.
    Each piece gives way to the requests in flight for at most its `give_way` seconds; with
    0 (a request waits for its answer) it goes before all the rest and waits for nothing."""

    def __init__(self, traffic: Traffic, *, workers: int = 1) -> None:
        self.traffic = traffic
        self._cond = traffic.cond  # a request ending and new work both wake the workers
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._closing = False
        self._threads = [
            threading.Thread(target=self._work, name=f"decide-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Callable[[], Any], *, give_way: float = GIVE_WAY) -> Future[Any]:
        job = _Job(give_way > 0, time.monotonic() + give_way, next(self._seq), work, Future())
        with self._cond:
            if self._closing:
                raise RuntimeError("the decision queue is shut down")
            heapq.heappush(self._heap, job)
            self._cond.notify_all()
        return job.future

    def shutdown(self) -> None:
        """Run what was handed over (without giving way any more), then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def _next(self) -> _Job | None:
        with self._cond:
            while True:
                if self._heap:
                    wait = self._heap[0].due - time.monotonic()
                    until_quiet = self.traffic.quiet_in()
                    if self._closing or until_quiet == 0 or wait <= 0:
                        return heapq.heappop(self._heap)
                    self._cond.wait(wait if until_quiet is None else min(wait, until_quiet))
                elif self._closing:
                    return None
                else:
                    self._cond.wait()

    def _work(self) -> None:
        while (job := self._next()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(job.work())
            except Exception as error:  # the future carries it to whoever looks
                job.future.set_exception(error)
