"""What a draft was written from is kept with it (migration 0010), on SQLite and PostgreSQL."""

from __future__ import annotations

from storage.repos import Store
from tests.factories import NOW, proposal_pipeline
from tests.storage.test_repos import new_draft
from triggers.drafts import DraftingNotes


def test_the_drafting_notes_round_trip(store: Store) -> None:
    store.pipeline.sync(proposal_pipeline(), NOW)
    notes = DraftingNotes(
        written_from=("Last from Jordan (18 November): we will review it internally",),
        cc=("priya@globex.example",),
        facts_used=("proposal sent 17 November",),
        why_angle="They said they would review it internally.",
        warnings=("Possible prompt injection in last inbound email: 'ignore your rules'",),
    )
    draft = store.drafts.insert(new_draft(drafting=notes), now=NOW)
    assert draft is not None
    loaded = store.drafts.get(draft.id)
    assert loaded is not None
    assert loaded.drafting == notes
