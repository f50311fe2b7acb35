"""A black-box harness for the send path: a real `followup` process, killed (SIGKILL) at a
named point between approve and the mailbox's acknowledgement, then restarted to finish.

Used by tests/flows/test_crash_send.py (every point, once) and bench/chaos_send.py (random
points and drafts, hundreds of times). The mail peers are the tests' own (tests/mailservers.py):
the outbox folder, or aiosmtpd for SMTP with pymap's IMAP for the Sent folder."""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.mailservers import FOUNDER, PASSWORD, ImapServer, SmtpServer

REPO = Path(__file__).resolve().parent.parent
FOLLOWUP = Path(sys.executable).with_name("followup")
POSTGRES_URL = os.environ.get(
    "FOLLOWUP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LEASE_SECONDS = 1.0
# Every day, all day: a message is due the moment it is approved, whenever the test runs.
CONFIG = """
[send_window]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "00:00"
end = "23:59"
timezone = "UTC"

# The harness sends dozens of messages in a minute: the mailbox's volume limits are off.
[sending]
daily_cap = 0
spacing = "0m"
"""


@dataclass(frozen=True)
class Outcome:
    """What one approval became after the crash and the restart."""

    point: str
    killed: bool
    messages: int  # copies that reached the mailbox (the SMTP server, or files in sent/)
    draft_status: str
    outbox_status: str | None
    note: str | None

    @property
    def duplicate(self) -> bool:
        return self.messages > 1

    @property
    def asked(self) -> bool:
        """The draft is back with the reviewer, saying why (held, failed, or still pending)."""
        return self.outbox_status == "held" or self.draft_status in ("failed", "pending")

    @property
    def lost(self) -> bool:
        """Nothing left and nobody was told: the one outcome that must never happen."""
        return self.messages == 0 and not self.asked


@dataclass
class Installation:
    """One followup installation: its database, its mailbox, its environment."""

    directory: Path
    database_url: str
    mailbox: str  # "outbox" or "smtp"
    smtp: SmtpServer | None = None
    imap: ImapServer | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.directory / "followup.toml").write_text(CONFIG)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "OPENAI_", "SMTP_", "IMAP_", "MAIL_", "FOLLOWUP_"))
        }
        env |= {
            "DATABASE_URL": self.database_url,
            "PIPELINE_FILE": str(REPO / "examples" / "pipeline.json"),
            "CRM_PROVIDER": "local",
            "OUTBOX_DIR": str(self.directory / "outbox"),
            "FOLLOWUP_CONFIG": str(self.directory / "followup.toml"),
            "SEND_LEASE_SECONDS": str(LEASE_SECONDS),
            "LOG_LEVEL": "WARNING",
        }
        if self.mailbox == "smtp":
            assert self.smtp is not None
            assert self.imap is not None
            env |= {
                "MAIL_PROVIDER": "smtp_imap",
                "MAIL_FROM": FOUNDER,
                "SMTP_HOST": self.smtp.host,
                "SMTP_PORT": str(self.smtp.port),
                "SMTP_SECURITY": "none",
                "IMAP_HOST": self.imap.host,
                "IMAP_PORT": str(self.imap.port),
                "IMAP_SECURITY": "none",
                "IMAP_USERNAME": FOUNDER,
                "IMAP_PASSWORD": PASSWORD,
                "MAIL_TIMEOUT_SECONDS": "10",
            }
        else:
            env["MAIL_PROVIDER"] = "outbox"
        self.env = env

    def run(self, *args: str, crash_at: str | None = None, timeout: float = 120) -> int:
        """`followup ARGS` in a process of its own; its return code (-9: killed)."""
        env = dict(self.env)
        if crash_at:
            env["FOLLOWUP_CRASH_AT"] = crash_at
        done = subprocess.run(
            [str(FOLLOWUP), *args],
            env=env,
            cwd=self.directory,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode not in (0, 1, -signal.SIGKILL):
            raise RuntimeError(f"followup {' '.join(args)}: {done.returncode}\n{done.stderr!r}")
        return done.returncode

    def prepare(self) -> list[int]:
        """Sync the sample pipeline and draft, in this process: the pending drafts' ids."""
        from app import build
        from flows.cycle import run_cycle
        from settings import Settings

        settings = Settings.model_validate({k.lower(): v for k, v in self.env.items()})
        application = build(settings, config_path=self.directory / "followup.toml")
        run_cycle(application.services, datetime.now(UTC), inbound=False)
        from triggers.drafts import DraftStatus

        drafts = application.services.store.drafts.find(statuses=[DraftStatus.PENDING])
        application.engine.dispose()
        return [d.id for d in drafts]

    def state(self, draft_id: int) -> tuple[str, str | None, str | None, str]:
        """(draft status, outbox status, outbox note, Message-ID) as stored."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                status = connection.execute(
                    text("SELECT status FROM drafts WHERE id = :id"), {"id": draft_id}
                ).scalar_one()
                row = connection.execute(
                    text("SELECT status, last_error, message_id FROM outbox WHERE draft_id = :id"),
                    {"id": draft_id},
                ).first()
        finally:
            engine.dispose()
        if row is None:
            return status, None, None, ""
        return status, row[0], row[1], row[2]

    def messages(self, message_id: str) -> int:
        """How many copies of `message_id` reached the mailbox."""
        if not message_id:
            return 0
        if self.mailbox == "outbox":
            from mail.outbox import OutboxMailbox

            return len(OutboxMailbox(self.directory / "outbox").attempts(message_id))
        assert self.smtp is not None
        return sum(
            1
            for r in self.smtp.handler.received
            if email.message_from_bytes(r.data)["Message-ID"] == message_id
        )

    def trial(self, draft_id: int, point: str) -> Outcome:
        """Approve `draft_id` with a crash at `point`, restart until settled, and look."""
        code = self.run("approve", str(draft_id), crash_at=point)
        killed = code == -signal.SIGKILL
        for _ in range(3):
            status, outbox, _note, _mid = self.state(draft_id)
            if status != "approved" or outbox in ("held", None):
                break
            time.sleep(LEASE_SECONDS * 1.2)  # the dead worker's lease runs out
            self.run("tick")
        status, outbox, note, message_id = self.state(draft_id)
        return Outcome(point, killed, self.messages(message_id), status, outbox, note)


@contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    """A fresh database URL: SQLite in `directory`, or a throwaway PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'followup-{uuid.uuid4().hex[:6]}.db'}"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"followup_chaos_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "trials": len(outcomes),
        "killed": sum(o.killed for o in outcomes),
        "sent_once": sum(o.messages == 1 and not o.asked for o in outcomes),
        "asked_a_person": sum(o.asked for o in outcomes),
        "duplicates": sum(o.duplicate for o in outcomes),
        "losses": sum(o.lost for o in outcomes),
    }


def as_json(outcomes: list[Outcome]) -> str:
    return json.dumps(summary(outcomes))
