"""followup.example.toml lists every section and key with its default, and stays so."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from settings import FollowupConfig, load_followup_config

EXAMPLE = Path(__file__).resolve().parent.parent / "followup.example.toml"


def sections(model: type[BaseModel], prefix: str = "") -> dict[str, set[str]]:
    """Section -> its keys, for every (nested) section of followup.toml."""
    found: dict[str, set[str]] = {prefix: set()}
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= sections(annotation, f"{prefix}.{key}" if prefix else key)
        elif name != "source":
            found[prefix].add(key)
    return found


def written(text: str) -> dict[str, set[str]]:
    """Section -> the keys the example writes (set, or shown commented out)."""
    found: dict[str, set[str]] = {"": set()}
    current = ""
    for line in text.splitlines():
        header = re.match(r"^#?\s*\[([a-z0-9_.]+)\]", line)
        if header:
            current = header.group(1)
            found.setdefault(current, set())
            continue
        key = re.match(r"^#?\s*([a-z_]+)\s*=", line)
        if key:
            found[current].add(key.group(1))
    return found


def test_the_example_is_the_defaults() -> None:
    loaded = load_followup_config(EXAMPLE)
    assert loaded.model_dump(exclude={"source"}) == FollowupConfig().model_dump(exclude={"source"})


def test_every_section_and_key_is_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    shown = written(text)
    missing = []
    for section, keys in sections(FollowupConfig).items():
        if not section:
            continue
        if section not in shown and not (section.startswith("drafting.") or keys):
            continue
        tables = {name.removeprefix(f"{section}.").split(".")[0] for name in shown}
        for key in keys - shown.get(section, set()) - tables:
            missing.append(f"[{section}] {key}")
        if section not in shown:
            missing.append(f"[{section}]")
    assert not missing, f"followup.example.toml lacks {missing}"


def test_a_rule_can_be_switched_off_with_enabled_alone(tmp_path: Path) -> None:
    path = tmp_path / "followup.toml"
    path.write_text("[rules.stage_stale]\nenabled = false\n")
    config = load_followup_config(path)
    assert config.rules.stage_stale.enabled is False
    assert config.rules.stage_stale.after == FollowupConfig().rules.stage_stale.after
