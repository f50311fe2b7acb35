"""The outbox folder mailbox when its folder cannot be written: a transient mail failure that
the worker retries (and `tick` reports), never an error that stops the worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from mail.base import OutgoingMessage, TransientMailError
from mail.outbox import OutboxMailbox

MESSAGE = OutgoingMessage(
    message_id="<a1b2c3.d4e5@northwind.example>",
    from_address="maya@northwind.example",
    from_name="Maya Chen",
    to_address="jordan@globex.example",
    to_name="Jordan Lee",
    subject="Re: Proposal",
    body="Hi Jordan,\n\nany questions on the proposal?\n\nMaya",
)


def test_a_folder_that_cannot_be_written_is_a_transient_failure(tmp_path: Path) -> None:
    mailbox = OutboxMailbox(tmp_path / "outbox")
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "sent").write_text("a file where the folder should be")
    with pytest.raises(TransientMailError, match="cannot write to the outbox folder"):
        mailbox.send(MESSAGE)


def test_a_sent_message_is_one_file_and_found_again(tmp_path: Path) -> None:
    mailbox = OutboxMailbox(tmp_path / "outbox")
    receipt = mailbox.send(MESSAGE)
    assert (tmp_path / "outbox" / "sent" / receipt.provider_id).exists()
    found = mailbox.find_sent(MESSAGE.message_id)
    assert found is not None
    assert found.provider_id == receipt.provider_id
