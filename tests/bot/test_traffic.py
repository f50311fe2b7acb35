"""Decisions give way to Slack's requests in flight, for a bounded time; work a request waits
for goes first."""

from __future__ import annotations

import threading
import time

from bot.traffic import DecisionQueue, Traffic


def test_a_decision_waits_for_the_request_in_flight_then_runs() -> None:
    traffic = Traffic(settle=0.01)
    queue = DecisionQueue(traffic)
    ran = threading.Event()
    try:
        with traffic.request():
            done = queue.submit(ran.set, give_way=5.0)
            assert not ran.wait(0.2)  # the ack's turn: nothing decided meanwhile
        done.result(timeout=2)  # quiet again: decided at once, not after the 5 s
        assert ran.is_set()
    finally:
        queue.shutdown()


def test_giving_way_is_bounded_under_endless_traffic() -> None:
    traffic = Traffic()
    queue = DecisionQueue(traffic)
    try:
        with traffic.request():
            started = time.monotonic()
            queue.submit(lambda: None, give_way=0.2).result(timeout=2)
            assert 0.15 < time.monotonic() - started < 1.5
    finally:
        queue.shutdown()


def test_work_a_request_waits_for_goes_before_the_decisions_queued() -> None:
    traffic = Traffic()
    queue = DecisionQueue(traffic)
    order: list[str] = []
    try:
        with traffic.request():
            deferred = [
                queue.submit(lambda: order.append("d1"), give_way=5.0),
                queue.submit(lambda: order.append("d2"), give_way=5.0),
            ]
            queue.submit(lambda: order.append("answer"), give_way=0.0).result(timeout=1)
            assert order == ["answer"]
        for future in deferred:
            future.result(timeout=2)
        assert order == ["answer", "d1", "d2"]
    finally:
        queue.shutdown()


def test_a_failed_decision_reaches_its_future_and_the_worker_goes_on() -> None:
    queue = DecisionQueue(Traffic())
    try:

        def boom() -> None:
            raise RuntimeError("storage is gone")

        failed = queue.submit(boom, give_way=0.0)
        assert isinstance(failed.exception(timeout=2), RuntimeError)
        assert queue.submit(lambda: 42, give_way=0.0).result(timeout=2) == 42
    finally:
        queue.shutdown()
