"""Time to response for Slack interactions: 200 signed requests, 20 at a time, over HTTP.

The real stack, in its own process: the Bolt app (bot.http.SlackAsgi) served by uvicorn on
127.0.0.1 with the lifespan protocol on, as `bot.http.serve` runs it; request signing checked,
every listener registered, the flows on SQLite, the review surface posting and updating messages
meanwhile. The loopback fake Web API runs in a second process and the 20 clients in a third, so
neither's work is counted as the app's. The mix is what reviewers do: approve (half, a tenth of
them double clicks), dismiss with a reason, snooze, open the Edit modal. Measured for both ways
Bolt can run a listener:

- as `followup run` serves: the listener acks and hands the decision to the decision queue,
  and the response leaves at once (the queue gives way to requests in flight: bot.traffic);
- as the tests run (decide_before_response): the response leaves once the flow has decided
  and storage holds the result (Bolt's process_before_response=True is on in both).

Beside time to response, each mode reports how long after the last response every decision
was made and every message updated, so what acking first defers stays in view.

Aim: p99 under 100 ms. Run: .venv/bin/python bench/slack_ack.py [--requests N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2

from bot import render
from bot.gateway import SlackGateway
from bot.ids import Action
from bot.runtime import slack_app
from bot.surface import Destination, SlackReviewSurface
from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.ports import Policy, Services
from mail.fake import FakeMailbox
from prompts.drafter import TemplateDrafter
from storage.db import make_engine, migrate
from storage.repos import Store
from tests.bot import payloads
from tests.bot.conftest import SECRET, TOKEN, USERS, Server
from tests.bot.fake_slack import FakeSlack
from triggers.model import Activity, ActivityKind, Contact, Deal, Owner, Pipeline

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MAYA = ("U01MAYA", "maya")


def pipeline(deals: int) -> Pipeline:
    maya = Owner("u1", "Maya Chen", "maya@northwind.example", "America/New_York", "U01MAYA")
    contacts = tuple(
        Contact(f"c{i}", f"Contact {i}", f"c{i}@client{i}.example", f"Client {i}", "Europe/Berlin")
        for i in range(deals)
    )
    sent = MONDAY - timedelta(days=4)
    found = tuple(
        Deal(
            f"d{i}",
            f"Client {i} rebuild",
            (f"c{i}",),
            "u1",
            "proposal",
            sent - timedelta(days=1),
            value=10_000,
        )
        for i in range(deals)
    )
    activities = tuple(
        Activity(
            f"a{i}", f"d{i}", ActivityKind.PROPOSAL_SENT, sent, f"c{i}", subject=f"Proposal {i}"
        )
        for i in range(deals)
    )
    return Pipeline((maya,), contacts, found, activities)


def requests_for(surface: SlackReviewSurface, store: Store, count: int) -> list[str]:
    """One signed-to-be body per interaction, clicked on the messages as posted."""
    drafts = store.drafts.find()
    out: list[tuple[str, str]] = []
    for index in range(count):
        draft = drafts[index % len(drafts)]
        assert draft.slack_channel is not None
        assert draft.slack_ts is not None
        rendered = render.draft_message(surface.card(draft))
        message: dict[str, Any] = {
            "ts": draft.slack_ts,
            "text": rendered.text,
            "blocks": rendered.blocks_json(),
        }
        slot = index % 20
        if slot < 10:
            kind, act = "approve", payloads.action(message["blocks"], Action.DRAFT_APPROVE)
        elif slot < 14:
            kind, act = (
                "dismiss",
                payloads.action(message["blocks"], Action.DRAFT_DISMISS, "not_now"),
            )
        elif slot < 18:
            kind, act = "snooze", payloads.action(message["blocks"], Action.DRAFT_MORE, "snooze-1d")
        else:
            kind, act = "edit", payloads.action(message["blocks"], Action.DRAFT_EDIT)
        payload = payloads.block_actions(
            act, user=MAYA, channel=draft.slack_channel, message=message
        )
        out.append((kind, payloads.interaction_body(payload)))
    # A tenth of the approvals are double clicks: the same request again, elsewhere in the run.
    approvals = [item for item in out if item[0] == "approve"]
    for n, item in enumerate(approvals[::10]):
        out[(n * 37 + 11) % len(out)] = item
    return [body for _, body in out]


def fake_slack(urls: Queue[Any], stop: Event) -> None:
    """Slack's side, in its own process (its work is not the app's)."""
    with FakeSlack(payloads.spec_path(), TOKEN, USERS) as fake:
        urls.put(fake.api_url)
        stop.wait()
        urls.put(len(fake.violations))


def app_server(
    api_url: str,
    count: int,
    deals: int,
    before: bool,
    decisions: int,
    out: Queue[Any],
    done: Event,
) -> None:
    """The app under test, in its own process: Bolt on uvicorn, flows, SQLite, the surface."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'followup.db'}")
        migrate(engine)
        store = Store(engine)
        gateway = SlackGateway(TOKEN, base_url=api_url, post_interval=0.0)
        surface = SlackReviewSurface(
            gateway, Destination("C0REVIEW", "channel"), clock=lambda: MONDAY
        )
        services = Services(
            store=store,
            crm=FakeCrm(pipeline(deals)),
            mailbox=FakeMailbox(),
            drafter=TemplateDrafter(),
            review=surface,
            policy=Policy(admins=frozenset({"U0ADMIN"})),
        )
        runtime = slack_app(
            services,
            signing_secret=SECRET,
            decide_before_response=before,
            clock=lambda: MONDAY,
            decisions=decisions,
        )
        surface.start()
        run_cycle(services, MONDAY)
        assert surface.wait_idle(300)
        bodies = requests_for(surface, store, count)
        with Server(runtime.asgi(services), http="auto", lifespan="on") as server:
            out.put((server.url, bodies))
            done.wait()
            runtime.executor.shutdown(wait=True)  # listeners, and the decisions after acks
            runtime.listeners.close()
            settled = surface.wait_idle(300)
        surface.stop()
        out.put((settled, len({row.draft_id for row in store.outbox.find()})))
        engine.dispose()


def load(url: str, bodies: list[str], concurrency: int) -> tuple[list[float], list[int], float]:
    timings: list[float] = []
    statuses: list[int] = []
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx2.Client(base_url=url, timeout=30, limits=limits) as http:
        http.get("/healthz")

        def send(body: str) -> None:
            headers = payloads.signed_headers(
                body, SECRET, content_type="application/x-www-form-urlencoded"
            )
            started = time.perf_counter()
            response = http.post("/slack/events", content=body, headers=headers)
            timings.append(time.perf_counter() - started)
            statuses.append(response.status_code)

        wall = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(send, bodies))
        wall = time.perf_counter() - wall
    return timings, statuses, wall


def run(
    before: bool,
    count: int,
    concurrency: int,
    *,
    deals: int = 200,
    decisions: int = 1,
    trace: bool = False,
) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    urls: Queue[Any] = context.Queue()
    out: Queue[Any] = context.Queue()
    stop, done = context.Event(), context.Event()
    slack = context.Process(target=fake_slack, args=(urls, stop), daemon=True)
    slack.start()
    api_url = urls.get(timeout=60)
    app = context.Process(
        target=app_server, args=(api_url, count, deals, before, decisions, out, done), daemon=True
    )
    app.start()
    url, bodies = out.get(timeout=600)
    timings, statuses, wall = load(url, bodies, concurrency)
    done.set()
    after = time.perf_counter()
    settled, approved = out.get(timeout=600)
    after = time.perf_counter() - after
    stop.set()
    violations = urls.get(timeout=60)
    app.join(30)
    slack.join(30)
    assert statuses == [200] * len(bodies), sorted(set(statuses))
    assert settled, "the review surface did not settle"
    assert violations == 0, "the fake Slack saw calls the Web API would refuse"
    if trace:  # latencies in the order the requests were sent
        print(" ".join(f"{t * 1000:.0f}" for t in timings))
    ms = sorted(t * 1000 for t in timings)
    return {
        "p50": statistics.median(ms),
        "p99": ms[max(0, round(len(ms) * 0.99) - 1)],
        "max": ms[-1],
        "rps": len(ms) / wall,
        "approved": approved,
        "after": after * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--deals",
        type=int,
        default=200,
        help="open deals, each with a draft (default: one "
        "per request; with fewer, later clicks land on drafts already decided)",
    )
    parser.add_argument("--decisions", type=int, default=1, help="decision workers")
    parser.add_argument("--trace", action="store_true", help="print every latency, in order")
    args = parser.parse_args()
    print(
        f"slack_ack: {args.requests} signed interactions on {args.deals} drafts, "
        f"{args.concurrency} at a time, "
        "HTTP to the Bolt app on uvicorn (127.0.0.1), SQLite, fake Web API"
    )
    for before in (False, True):
        result = run(
            before,
            args.requests,
            args.concurrency,
            deals=args.deals,
            decisions=args.decisions,
            trace=args.trace,
        )
        label = "decided before the response" if before else "acked, then decided    "
        print(
            f"  {label}  p50 {result['p50']:6.1f} ms   p99 {result['p99']:6.1f} ms   "
            f"max {result['max']:6.1f} ms   {result['rps']:5.0f} req/s   "
            f"all decided {result['after']:5.0f} ms after the last response   "
            f"({result['approved']} approved, each once)"
        )
    print("  aim: p99 < 100 ms")


if __name__ == "__main__":
    main()
