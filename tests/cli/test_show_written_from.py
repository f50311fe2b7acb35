"""`followup show` tells the reviewer what the draft was written from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.test_core import env, invoke  # noqa: F401  (the fixture)


def test_show_lists_the_evidence_the_cc_and_the_owner_task(
    env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = invoke("demo")
    assert code == 0
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{env / '.followup-demo' / 'followup.db'}")
    ids = dict(
        (title.strip(), int(number))
        for number, title in re.findall(r"^#(\d+)\s+(.+?)\s{2,}\w+$", out, re.MULTILINE)
    )
    saltbush = ids["Saltbush Health: analytics training for clinic managers"]
    code, shown, _ = invoke("show", str(saltbush))
    assert code == 0
    assert "Cc: mark.ellison@saltbushhealth.example" in shown
    assert "Written from:" in shown
    assert "  - Proposal sent " in shown
    assert "Hi Priya, hi Mark," in shown

    redwood = ids["Redwood Trail Outfitters: Shopify Plus migration"]
    code, shown, _ = invoke("show", str(redwood))
    assert "Warning: Task: the call notes say we promised 'a ballpark" in shown
    assert "  - Call (" in shown


def test_stats_rank_templates_by_edits_and_dismissals(
    env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = invoke("demo")
    assert code == 0
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{env / '.followup-demo' / 'followup.db'}")
    first = re.search(r"^#(\d+)\s+.+?\s{2,}(\w+)$", out, re.MULTILINE)
    assert first is not None
    code, _, _ = invoke("dismiss", first.group(1), "--reason", "not_now")
    assert code == 0
    from cli import cadence  # noqa: F401  (registers `stats`)

    code, shown, _ = invoke("stats")
    assert code == 0
    section = shown.split("Templates by how often reviewers edit or dismiss them:")[1]
    assert (
        section.strip()
        .splitlines()[0]
        .startswith(f"{first.group(2)} (template): 0 edited, 1 dismissed")
    )
    assert "Template suggestions from the most common edits:" in shown
