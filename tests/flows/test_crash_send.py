"""The send path under `kill -9`: a real `followup approve` process is killed at every commit
point between the approval and the mailbox's acknowledgement, on SQLite and PostgreSQL, over
the outbox folder and over SMTP (aiosmtpd, with pymap's IMAP as the Sent folder); a restarted
`followup tick` finishes. Exactly one message leaves, or the draft is back with the reviewer
saying why; never none silently, never two."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from observe.faults import POINTS
from tests.mailservers import ImapServer, SmtpServer, imap_server, require, smtp_server
from tests.send_harness import Installation, database

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# "submitted" is inside the SMTP mailbox (250 received, Sent copy not yet filed).
FOLDER_POINTS = [p for p in POINTS if p != "submitted"]


@pytest.fixture(scope="module")
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with imap_server(tmp_path_factory.mktemp("imap")) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    require("aiosmtpd")
    with smtp_server("none", None) as server:
        yield server


@pytest.mark.parametrize("kind", DATABASES)
def test_the_outbox_folder_sends_each_message_once_whatever_the_crash(
    kind: str, tmp_path: Path
) -> None:
    with database(kind, tmp_path) as url:
        installation = Installation(tmp_path, url, "outbox")
        drafts = installation.prepare()
        assert len(drafts) >= len(FOLDER_POINTS)
        for draft_id, point in zip(drafts, FOLDER_POINTS, strict=False):
            outcome = installation.trial(draft_id, point)
            assert outcome.killed, point
            # The folder's copy is fsync'd before "sent" is recorded and a lookup comes before
            # any retry: one file, the draft sent, whichever the point.
            assert (outcome.messages, outcome.draft_status) == (1, "sent"), outcome


@pytest.mark.parametrize("kind", DATABASES)
def test_smtp_sends_once_or_asks_the_reviewer_whatever_the_crash(
    kind: str, tmp_path: Path, smtp: SmtpServer, imap: ImapServer
) -> None:
    imap.reset()
    with database(kind, tmp_path) as url:
        installation = Installation(tmp_path, url, "smtp", smtp=smtp, imap=imap)
        drafts = installation.prepare()
        outcomes = {
            point: installation.trial(draft_id, point)
            for draft_id, point in zip(drafts, POINTS, strict=False)
        }
        for point, outcome in outcomes.items():
            assert outcome.killed, point
            assert not outcome.duplicate, outcome
            assert not outcome.lost, outcome
        for point in ("approved", "claimed", "acknowledged", "recorded"):
            # Before the hand-over nothing can have left; after the copy is filed in Sent,
            # the lookup finds it: exactly once, no person needed.
            assert (outcomes[point].messages, outcomes[point].draft_status) == (1, "sent")
        # Handed to SMTP, or accepted but not yet filed in Sent: unknowable from here, so
        # the message is held and the reviewer asked, never resent on a guess.
        for point, left in (("handed", 0), ("submitted", 1)):
            outcome = outcomes[point]
            assert (outcome.messages, outcome.outbox_status) == (left, "held"), outcome
            assert outcome.note is not None
            assert "may already have been sent" in outcome.note
        # The reviewer's answers: send the one that did not leave, cancel the one that did.
        handed = drafts[POINTS.index("handed")]
        assert installation.run("resend", str(handed)) == 0
        assert installation.messages(installation.state(handed)[3]) == 1
        assert installation.state(handed)[0] == "sent"
        submitted = drafts[POINTS.index("submitted")]
        assert installation.run("cancel", str(submitted)) == 0
        assert installation.state(submitted)[:2] == ("withdrawn", "cancelled")
        assert installation.messages(installation.state(submitted)[3]) == 1
