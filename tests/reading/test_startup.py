"""Importing reading/ compiles no pattern (issue 12: mail/parse.py cost 0.6 s at import)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, pkgutil, re
import reading
from reading._rx import Lazy
modules = [importlib.import_module(f"reading.{m.name}") for m in pkgutil.iter_modules(reading.__path__)]
patterns = []
for module in modules:
    for value in vars(module).values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            for part in item if isinstance(item, tuple) else (item,):
                if isinstance(part, Lazy):
                    patterns.append(part)
compiled = sum(1 for p in patterns if p._compiled is not None)
print(len(patterns), compiled, sorted(m for m in __import__("sys").modules if m.startswith("dateparser")))
"""


def test_importing_reading_compiles_no_pattern_and_loads_no_dateparser() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split(maxsplit=2)
    patterns, compiled, loaded = int(out[0]), int(out[1]), out[2].strip()
    assert patterns > 100  # the tables are there ...
    assert compiled == 0  # ... and compile when a message is first read
    assert loaded == "[]"


def test_a_pattern_compiles_once_on_first_use() -> None:
    from reading._rx import lazy

    pattern = lazy(r"\bstop\b")
    assert pattern.search("please stop") is not None
    first = pattern.compiled
    assert pattern.search("no") is None
    assert pattern.compiled is first
