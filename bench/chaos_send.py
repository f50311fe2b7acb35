"""Duplicates and losses of the send path under `kill -9`, per database and mailbox.

Each trial approves one pending draft in a process of its own (forked from this one, so the
imports are paid once) and kills that process with SIGKILL: half the trials at a named commit
point between the approval and the mailbox's acknowledgement (storage.faults, chosen at
random), half after a random delay (anywhere, including inside SQLite/PostgreSQL commits and
the SMTP dialogue). Then the "restarted" worker (this process) finishes, as `followup tick`
would after the dead worker's lease ran out, and the trial is judged:

- sent once: exactly one copy reached the mailbox and the draft is sent;
- asked a person: the draft is back with the reviewer saying why (held "may already have
  been sent", failed with its reason, or still pending because the kill came before the
  approval committed), with the number of copies that had left (0 or 1);
- duplicate: two copies or more; loss: none left and nobody was told. Both must be 0.

The mail peers are the tests' own: the outbox folder, and aiosmtpd for SMTP with pymap's IMAP
as the Sent folder (tests/mailservers.py). PostgreSQL is the local server.

Second figure (--workers): three `followup run` processes on one PostgreSQL database send a few
hundred approved messages (stored as approvals are, one transaction each), one of the processes
killed (SIGKILL) while rows are being sent: each message must leave exactly once. (Clicks in
Slack are not part of it: their durability is shown in tests/bot/test_send_buttons.py.)

Run: .venv/bin/python bench/chaos_send.py [--trials 60] [--seed 7] [--workers 300]
(the default run takes a few minutes; --trials is per database and mailbox).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.faults import ENV, POINTS
from tests.mailservers import imap_server, smtp_server
from tests.send_harness import FOLLOWUP, REPO, Installation, Outcome, database

LEASE = timedelta(seconds=0.3)


def multiplied_pipeline(path: Path, copies: int) -> Path:
    """The sample pipeline `copies` times over, with its own ids and addresses per copy."""
    document = json.loads((REPO / "examples" / "pipeline.json").read_text())
    out: dict[str, Any] = {
        k: v for k, v in document.items() if k not in ("contacts", "deals", "activities")
    }
    out |= {"contacts": [], "deals": [], "activities": []}
    addresses = {
        a.lower()
        for c in document["contacts"]
        for a in [c.get("email"), *(c.get("alt_emails") or [])]
        if a
    }

    def address(value: str, k: int) -> str:
        return f"k{k}.{value}" if value.lower() in addresses else value

    def msgid(value: str | None, k: int) -> str | None:
        return None if value is None else value.replace("<", f"<k{k}.", 1)

    for k in range(copies):
        for c in document["contacts"]:
            out["contacts"].append(
                c
                | {
                    "id": f"k{k}-{c['id']}",
                    "email": address(c["email"], k) if c.get("email") else c.get("email"),
                    "alt_emails": [address(a, k) for a in c.get("alt_emails") or []],
                }
            )
        for d in document["deals"]:
            out["deals"].append(
                d
                | {"id": f"k{k}-{d['id']}", "contact_ids": [f"k{k}-{c}" for c in d["contact_ids"]]}
            )
        for a in document["activities"]:
            changed = a | {"id": f"k{k}-{a['id']}", "deal_id": f"k{k}-{a['deal_id']}"}
            if a.get("contact_id"):
                changed["contact_id"] = f"k{k}-{a['contact_id']}"
            for key in ("message_id", "in_reply_to"):
                if a.get(key):
                    changed[key] = msgid(a[key], k)
            if a.get("thread_id"):
                changed["thread_id"] = f"k{k}-{a['thread_id']}"
            if a.get("from"):
                changed["from"] = address(a["from"], k)
            if a.get("to"):
                changed["to"] = [address(t, k) for t in a["to"]]
            out["activities"].append(changed)
    path.write_text(json.dumps(out))
    return path


class Chaos:
    """One database and one mailbox: the application built once, trials forked from it."""

    def __init__(self, installation: Installation, pipeline: Path, rng: random.Random) -> None:
        from app import build
        from flows.cycle import run_cycle
        from settings import Settings
        from triggers.drafts import DraftStatus

        installation.env["PIPELINE_FILE"] = str(pipeline)
        settings = Settings.model_validate({k.lower(): v for k, v in installation.env.items()})
        self.installation = installation
        self.application = build(settings, config_path=installation.directory / "followup.toml")
        services = self.application.services
        services.policy = replace(services.policy, send_lease=LEASE)
        run_cycle(services, datetime.now(UTC), inbound=False)
        self.pending = [d.id for d in services.store.drafts.find(statuses=[DraftStatus.PENDING])]
        rng.shuffle(self.pending)
        self.rng = rng
        self.points = [p for p in POINTS if installation.mailbox == "smtp" or p != "submitted"]

    def _child(self, draft_id: int, point: str | None) -> None:
        """In the forked process: approve, then send, as `followup approve` does."""
        from flows.delivery import deliver_due
        from flows.ports import Actor
        from flows.review import approve

        try:
            if point:
                os.environ[ENV] = point
            self.application.engine.dispose(close=False)  # never the parent's connections
            services = self.application.services
            now = datetime.now(UTC)
            approve(services, draft_id, Actor.operator("chaos"), now)
            deliver_due(services, now)
        finally:
            os._exit(0)

    def trial(self) -> tuple[Outcome, str]:
        from flows.delivery import deliver_due

        draft_id = self.pending.pop()
        named = self.rng.random() < 0.5
        point = self.rng.choice(self.points) if named else None
        pid = os.fork()
        if pid == 0:
            self._child(draft_id, point)
        if not named:
            time.sleep(self.rng.uniform(0.0, 0.25))
            with contextlib.suppress(ProcessLookupError):  # it may have finished first
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        services = self.application.services
        for _ in range(4):  # the restarted worker, after the dead one's lease ran out
            state = self.installation.state(draft_id)
            if state[0] != "approved" or state[1] in ("held", None):
                break
            time.sleep(LEASE.total_seconds() * 1.3)
            deliver_due(services, datetime.now(UTC))
        status_, outbox, note, message_id = self.installation.state(draft_id)
        label = point or "random moment"
        return (
            Outcome(label, killed, self.installation.messages(message_id), status_, outbox, note),
            label,
        )


def run_combination(kind: str, mailbox: str, trials: int, seed: int, tmp: Path) -> list[Outcome]:
    directory = tmp / f"{kind}-{mailbox}"
    directory.mkdir()
    copies = max(1, trials // 8 + 2)
    pipeline = multiplied_pipeline(directory / "pipeline.json", copies)
    rng = random.Random(seed)
    with database(kind, directory) as url:
        if mailbox == "smtp":
            with smtp_server("none", None) as smtp, imap_server(directory) as imap:
                chaos = Chaos(
                    Installation(directory, url, "smtp", smtp=smtp, imap=imap), pipeline, rng
                )
                outcomes = [chaos.trial()[0] for _ in range(min(trials, len(chaos.pending)))]
                chaos.application.engine.dispose()
                return outcomes
        chaos = Chaos(Installation(directory, url, "outbox"), pipeline, rng)
        outcomes = [chaos.trial()[0] for _ in range(min(trials, len(chaos.pending)))]
        chaos.application.engine.dispose()
        return outcomes


def report(kind: str, mailbox: str, outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    asked = [o for o in outcomes if o.asked]
    row = {
        "database": kind,
        "mailbox": mailbox,
        "trials": len(outcomes),
        "killed": sum(o.killed for o in outcomes),
        "sent_once": sum(o.messages == 1 and not o.asked for o in outcomes),
        "asked_a_person": len(asked),
        "of_which_not_approved": sum(o.draft_status == "pending" for o in asked),  # killed first
        "asked_with_0_left": sum(o.messages == 0 for o in asked),
        "asked_with_1_left": sum(o.messages == 1 for o in asked),
        "duplicates": sum(o.duplicate for o in outcomes),
        "losses": sum(o.lost for o in outcomes),
        "seconds": round(seconds, 1),
    }
    why = Counter(
        f"{o.point}: {o.draft_status}/{o.outbox_status}" for o in outcomes if o.asked or o.duplicate
    )
    row["asked_by_point"] = dict(sorted(why.items()))
    return row


# --- the second figure: three workers, one killed ------------------------------------------


def workers_figure(messages: int, tmp: Path, seed: int) -> dict[str, Any]:
    """Three workers on PostgreSQL, `messages` approved rows, one worker SIGKILLed mid-way."""
    from sqlalchemy import create_engine, text

    from mail.outbox import OutboxMailbox
    from storage.db import make_engine, migrate
    from storage.repos import Store
    from tests.factories import contact, deal, owner
    from triggers.drafts import NewDraft
    from triggers.model import Pipeline

    rng = random.Random(seed)
    directory = tmp / "workers"
    directory.mkdir()
    with database("postgresql", directory) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        now = datetime.now(UTC)
        contacts = tuple(
            contact(id=f"bench-c{i}", email=f"p{i}@prospect.example") for i in range(messages)
        )
        deals = tuple(deal(id=f"bench-d{i}", contact_ids=(f"bench-c{i}",)) for i in range(messages))
        store.pipeline.sync(Pipeline((owner(),), contacts, deals, ()), now)
        from flows.outgoing import SIGNING_STATE
        from mail.base import new_installation_secret, new_message_id
        from storage.repos import OutgoingRow
        from triggers.drafts import AuditEntry

        secret = store.sync_state.setdefault(SIGNING_STATE, new_installation_secret())
        for i in range(messages):
            draft = store.drafts.insert(
                NewDraft(
                    deal_id=f"bench-d{i}",
                    contact_id=f"bench-c{i}",
                    to_address=f"p{i}@prospect.example",
                    trigger="proposal_no_reply",
                    rule="proposal_no_reply",
                    angle=None,
                    anchor_at=now,
                    due_at=now,
                    send_at=now,
                    reason="bench",
                    evidence=(),
                    subject="Hello",
                    body="Hi there",
                    source="template",
                ),
                now=now,
            )
            assert draft is not None
            store.outbox.approve(
                draft.id,
                OutgoingRow(
                    new_message_id(secret, "northwind.example"),
                    "maya@northwind.example",
                    draft.to_address,
                    "Hello",
                    "Hi there",
                    None,
                    (),
                    now,
                ),
                version=1,
                actor="bench",
                now=now,
                audit=AuditEntry(now, "bench", "approve", f"draft:{draft.id}"),
            )
        engine.dispose()
        installation = Installation(directory, url, "outbox")
        outbox_dir = directory / "outbox"
        check = create_engine(url)

        def count(where: str) -> int:
            with check.connect() as connection:
                return int(
                    connection.execute(
                        text(f"SELECT count(*) FROM outbox WHERE {where}")
                    ).scalar_one()
                )

        started = time.monotonic()
        processes = [
            subprocess.Popen(  # the real service, three times, on one database
                [str(FOLLOWUP), "run", "--interval", "3600"],
                env=installation.env,
                cwd=directory,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(3)
        ]
        try:
            while count("status = 'sent'") == 0 and time.monotonic() - started < 120:
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 1.0))
            processes[0].kill()  # SIGKILL, mid-way through the rows
            killed_at = time.monotonic() - started
            sent_when_killed = count("status = 'sent'")
            while count("status <> 'sent'") and time.monotonic() - started < 600:
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            with check.connect() as connection:
                rows = connection.execute(text("SELECT message_id, status FROM outbox")).all()
                unsent = Counter(s for _, s in rows if s != "sent")
                sent_drafts = connection.execute(
                    text("SELECT count(*) FROM drafts WHERE status = 'sent'")
                ).scalar_one()
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            check.dispose()
        folder = OutboxMailbox(outbox_dir)
        copies = Counter(len(folder.attempts(m)) for m, _ in rows)
        return {
            "figure": "three `followup run` on PostgreSQL, one SIGKILLed mid-way",
            "messages": messages,
            "killed_after_s": round(killed_at, 2),
            "sent_before_the_kill": sent_when_killed,
            "all_sent_after_s": round(elapsed, 2),
            "rows_sent": sum(1 for _, s in rows if s == "sent"),
            "drafts_sent": sent_drafts,
            "sent_once": copies.get(1, 0),
            "not_sent_by_status": dict(unsent),
            "duplicates": sum(n for c, n in copies.items() if c > 1),
            "losses": copies.get(0, 0),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60, help="per database and mailbox")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--mailboxes", default="outbox,smtp")
    parser.add_argument(
        "--workers", type=int, default=150, help="messages for the 2nd figure (0: skip)"
    )
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="chaos-send-") as tmp:
        for kind in args.databases.split(",") if args.trials else []:
            for mailbox in args.mailboxes.split(","):
                started = time.monotonic()
                outcomes = run_combination(kind, mailbox, args.trials, args.seed, Path(tmp))
                row = report(kind, mailbox, outcomes, time.monotonic() - started)
                print(json.dumps(row), flush=True)
                failed |= row["duplicates"] > 0 or row["losses"] > 0
        if args.workers and "postgresql" in args.databases:
            row = workers_figure(args.workers, Path(tmp), args.seed)
            print(json.dumps(row), flush=True)
            failed |= row["duplicates"] > 0 or row["losses"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
