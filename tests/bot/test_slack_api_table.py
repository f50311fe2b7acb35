"""Corpus conformance: the Slack facts the fakes check against (tests/bot/slack_api.json) are
exactly what scripts/slack_api_table.py makes of the published spec and samples. Skipped, with
the reason, in a clone without the shared corpora; everything else runs from the table."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from tests.bot import payloads
from tests.conftest import CORPORA, corpus_file

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slack_api_table.py"


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("slack_api_table", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_is_what_the_spec_and_samples_say() -> None:
    corpus_file("slack", "slack-api-specs", "web-api", "slack_web_openapi_v2.json")
    script = _script()
    assert payloads.TABLE.read_text(encoding="utf-8") == script.render(script.build(CORPORA)), (
        "tests/bot/slack_api.json is stale: run scripts/slack_api_table.py"
    )


def test_every_method_the_bot_names_is_in_the_table() -> None:
    import re

    table = payloads._table()["methods"]
    bot = Path(__file__).resolve().parents[2] / "bot"
    named = set()
    for path in bot.glob("*.py"):
        named |= set(
            re.findall(r'"((?:chat|views|users|conversations|auth)\.[a-zA-Z]+)"', path.read_text())
        )
    assert named <= set(table), sorted(named - set(table))
