"""The README says what the product does today: its demo sample is what `make demo` prints,
its commands exist, and no help text points at a file that is not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from cli._app import main_app

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
# The instant the README's sample was printed at (the sample pipeline follows today's date).
SAMPLE_AT = "2026-11-22T12:00:00Z"


@pytest.fixture(autouse=True)
def _commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    from cli import cadence, check, core, crm, digest, mail, replies, review, send  # noqa: F401


def test_the_readme_sample_is_what_the_demo_prints() -> None:
    tour = README.split("## A tour of the demo", 1)[1]
    sample = tour.split("```\n", 2)[1]
    shown = [line for line in sample.splitlines() if line != "..."]
    result = CliRunner().invoke(main_app, ["demo", "--at", SAMPLE_AT])
    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    assert printed[: len(shown)] == shown


def _commands_of(group: typer.Typer) -> dict[str, object]:
    command = get_command(group)
    return dict(command.commands)  # type: ignore[attr-defined]


def test_every_command_in_the_readme_table_exists() -> None:
    table = README.split("## Commands", 1)[1].split("Exit statuses", 1)[0]
    named = set(re.findall(r"^\| `followup ([a-z-]+)", table, flags=re.MULTILINE))
    named |= set(re.findall(r"/ `followup ([a-z-]+)", table))
    commands = _commands_of(main_app)
    assert named
    assert named <= set(commands), sorted(named - set(commands))


def test_no_help_text_points_at_a_missing_file() -> None:
    texts = []
    for command in _commands_of(main_app).values():
        texts.append(command.help or "")  # type: ignore[attr-defined]
        for param in command.params:  # type: ignore[attr-defined]
            texts.append(getattr(param, "help", "") or "")
    paths = set()
    for text in texts:
        paths |= set(re.findall(r"\b((?:[a-z_]+/)+[a-z_.]+\.[a-z]+|[a-z_]+/[a-z_]+/)", text))
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, missing
