"""The send-time check reads the inbox's `Reading` (issue 15), not `extra["mail_kind"]`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.factories import NOW, activity, contact, deal, owner
from triggers.drafts import Draft, DraftStatus
from triggers.model import ActivityKind, DealView, Direction
from triggers.reading import OptOut, Reading
from triggers.sendcheck import obsolete_reason

DRAFT = Draft(
    id=1,
    deal_id="d1",
    contact_id="c1",
    to_address="jordan@globex.example",
    trigger="proposal_no_reply",
    rule="proposal_no_reply",
    angle=None,
    anchor_at=NOW - timedelta(days=4),
    due_at=NOW,
    send_at=NOW,
    reason="no reply",
    evidence=(),
    subject="Following up",
    body="Hi Jordan",
    original_subject="Following up",
    original_body="Hi Jordan",
    source="template",
    status=DraftStatus.APPROVED,
    version=1,
    created_at=NOW,
)


def view_with(reading: Reading | None, at_offset: timedelta) -> DealView:
    reply = activity(
        ActivityKind.NOTE,
        NOW + at_offset,
        direction=None,
        from_address="jordan@globex.example",
        reading=reading,
    )
    return DealView(deal(), (contact(),), owner(), (reply,))


@pytest.mark.parametrize(
    ("reading", "offset", "reason"),
    [
        (Reading(kind="opt_out", opt_out=OptOut.SURE), -timedelta(days=2), "asked to opt out"),
        (Reading(kind="reply", opt_out=OptOut.CHECK), timedelta(hours=1), "check first"),
        (Reading(kind="reply", opt_out=OptOut.CHECK), -timedelta(days=2), None),  # seen before
        (Reading(kind="auto_reply"), timedelta(hours=1), None),
        (None, timedelta(hours=1), None),
    ],
)
def test_a_read_opt_out_stops_the_send(
    reading: Reading | None, offset: timedelta, reason: str | None
) -> None:
    found = obsolete_reason(DRAFT, view_with(reading, offset), frozenset())
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


def test_an_opt_out_from_someone_else_does_not_stop_it() -> None:
    view = view_with(Reading(kind="opt_out", opt_out=OptOut.SURE), timedelta(hours=1))
    other = replace(view.activities[0], from_address="sam@globex.example", direction=Direction.IN)
    assert obsolete_reason(DRAFT, replace(view, activities=(other,)), frozenset()) is None
