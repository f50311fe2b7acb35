"""What followup asks a CRM to record, as data: each write with the key that makes it
idempotent. The CRM adapters perform them (`crm/`), the store queues them (`storage/`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class WriteKind(StrEnum):
    SENT = "sent"  # an approved follow-up went out: log it on the deal
    DRAFTED = "drafted"  # `[crm] log_drafts`: a follow-up was drafted
    DO_NOT_CONTACT = "do_not_contact"
    TASK = "task"
    REPLY_STAGE = "reply_stage"


@dataclass(frozen=True, slots=True)
class WriteBack:
    """One write to the CRM, with the key that makes it idempotent: replayed, it finds what
    the first attempt wrote (by the key's marker) instead of writing it twice."""

    key: str
    kind: WriteKind
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class QueuedWrite:
    id: int
    op: WriteBack
    attempts: int
