"""The dependency rule of DESIGN.md, checked on the source so it cannot rot."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIRST_PARTY = {
    "triggers",
    "reading",
    "flows",
    "bot",
    "crm",
    "mail",
    "storage",
    "prompts",
    "app",
    "cli",
    "settings",
    "httploop",
    "observe",
}
# Interfaces (and pure helpers) of the edge packages; everything else in them is a concrete adapter.
INTERFACES = {
    "crm.base",
    "crm.mapping",
    "mail.base",
    "prompts.base",
    "prompts.reply_model",
    "storage.repos",
}
SLACK = {"slack_sdk", "slack_bolt"}


def imports_of(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


def is_concrete_adapter(name: str) -> bool:
    parts = name.split(".")
    if parts[0] not in {"crm", "mail", "prompts"} or len(parts) < 2:
        return False
    module = ".".join(parts[:2])
    return module not in INTERFACES and module not in {"prompts.templates"}


@pytest.mark.parametrize("path", modules("triggers"), ids=lambda p: p.name)
def test_triggers_import_only_the_standard_library(path: Path) -> None:
    outside = {
        name
        for name in imports_of(path)
        if top(name) not in sys.stdlib_module_names and top(name) not in {"triggers", "__future__"}
    }
    assert not outside, f"{path.relative_to(REPO)} imports {sorted(outside)}"


@pytest.mark.parametrize("path", modules("flows"), ids=lambda p: p.name)
def test_flows_talk_to_interfaces_only(path: Path) -> None:
    wrong = set()
    for name in imports_of(path):
        root = top(name)
        if root in sys.stdlib_module_names or root == "__future__":
            continue
        if root not in FIRST_PARTY:
            wrong.add(name)  # no vendor library in a use case
        elif root in {"bot", "app", "cli", "settings"} or is_concrete_adapter(name):
            wrong.add(name)
    assert not wrong, f"{path.relative_to(REPO)} imports {sorted(wrong)}"


def all_sources() -> list[Path]:
    found = [REPO / "app.py", REPO / "settings.py"]
    for package in FIRST_PARTY - {"app", "settings"}:
        found += [p for p in modules(package) if "migrations" not in p.parts]
    return sorted(found)


@pytest.mark.parametrize("path", all_sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_only_bot_and_app_import_slack(path: Path) -> None:
    if path.parts[len(REPO.parts)] in {"bot", "app.py"}:
        return
    assert not {top(n) for n in imports_of(path)} & SLACK, f"{path.relative_to(REPO)} imports Slack"


@pytest.mark.parametrize("path", all_sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_only_the_composition_root_imports_concrete_adapters(path: Path) -> None:
    owner = path.parts[len(REPO.parts)]
    if owner in {"app.py", "cli"}:
        return
    package = path.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
    concrete = {n for n in imports_of(path) if is_concrete_adapter(n) and top(n) != top(package)}
    assert not concrete, f"{path.relative_to(REPO)} imports adapters {sorted(concrete)}"


@pytest.mark.parametrize("path", modules("httploop"), ids=lambda p: p.name)
def test_the_shared_http_loop_knows_no_edge(path: Path) -> None:
    """mail and crm both sit on `httploop`; it must not lean on either (or on anything of ours)."""
    ours = {n for n in imports_of(path) if top(n) in FIRST_PARTY - {"httploop"}}
    assert not ours, f"{path.relative_to(REPO)} imports {sorted(ours)}"


def test_the_check_itself_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "rules.py"
    sample.write_text("import sqlalchemy\nfrom triggers.model import Deal\n")
    outside = {
        n
        for n in imports_of(sample)
        if top(n) not in sys.stdlib_module_names and top(n) != "triggers"
    }
    assert outside == {"sqlalchemy"}


# reading/ may use these text libraries besides the standard library and triggers/.
READING_LIBRARIES = {"regex", "quotequail", "mailparser_reply", "flufl", "dateparser"}


@pytest.mark.parametrize("path", modules("reading"), ids=lambda p: p.name)
def test_reading_is_pure(path: Path) -> None:
    """reading/: standard library, its text libraries and triggers/ only; no clock."""
    outside = {
        name
        for name in imports_of(path)
        if top(name) not in sys.stdlib_module_names
        and top(name) not in {"reading", "triggers", "__future__"}
        and top(name) not in READING_LIBRARIES
    }
    assert not outside, f"{path.relative_to(REPO)} imports {sorted(outside)}"
    source = path.read_text(encoding="utf-8")
    for clock in ("datetime.now(", ".utcnow(", "date.today(", "time.time("):
        assert clock not in source, f"{path.relative_to(REPO)} reads the clock ({clock})"
