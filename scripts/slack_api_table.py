#!/usr/bin/env python3
"""Write tests/bot/slack_api.json: the facts the Slack test fakes check against.

Where it comes from:
- the Slack Web API OpenAPI document `slack_web_openapi_v2.json` (slackapi/slack-api-specs,
  `web-api/`), for each Web API method followup calls: its argument names, the required ones,
  and the field names of its documented 200 example (values blanked: a shape, not the data);
- slackapi/java-slack-sdk `json-logs/samples/` interaction payloads (block_actions,
  view_submission, slash command, app_home_opened), as the set of field names only.

Both are in the shared corpora (`corpora/slack/slack-api-specs/web-api/...` and
`corpora/slack/java-slack-sdk/...`). Run it again when the product calls a new method:

    .venv/bin/python scripts/slack_api_table.py [CORPORA_DIR]   # default: ../shared/corpora

`tests/bot/test_slack_api_table.py` checks, when the corpora are present, that the table in the
repository is exactly what this script makes of them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TABLE = REPO / "tests" / "bot" / "slack_api.json"
SPEC = ("slack", "slack-api-specs", "web-api", "slack_web_openapi_v2.json")
SAMPLES = ("slack", "java-slack-sdk")

# Every Web API method in the spec that followup (bot/, and Bolt on its behalf) calls.
METHODS = (
    "auth.test",
    "chat.postEphemeral",
    "chat.postMessage",
    "chat.scheduleMessage",
    "chat.update",
    "conversations.open",
    "users.info",
    "users.lookupByEmail",
    "views.open",
    "views.publish",
    "views.update",
)
# The interaction payloads the tests build requests from (paths under java-slack-sdk/).
PAYLOADS = (
    "app-backend/interactive-components/BlockActionPayload.json",
    "app-backend/views/ViewSubmissionPayload.json",
    "app-backend/slash-commands/SlashCommandPayload.json",
    "events/AppHomeOpenedPayload.json",
)


def shape(value: Any, *, keep_lists: bool) -> Any:
    """Field names only: every leaf blanked to an empty value of its type."""
    if isinstance(value, dict):
        return {key: shape(item, keep_lists=keep_lists) for key, item in value.items()}
    if isinstance(value, list):
        if keep_lists and value and isinstance(value[0], dict):
            return [shape(value[0], keep_lists=keep_lists)]
        return []
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return 0
    if isinstance(value, str):
        return ""
    return None


def build(corpora: Path) -> dict[str, Any]:
    document = json.loads(corpora.joinpath(*SPEC).read_text(encoding="utf-8"))
    methods: dict[str, Any] = {}
    for method in METHODS:
        operations = document["paths"][f"/{method}"]
        for operation in operations.values():
            params = operation.get("parameters", [])
            example = (
                operation.get("responses", {})
                .get("200", {})
                .get("examples", {})
                .get("application/json")
            )
            methods[method] = {
                "arguments": sorted({p["name"] for p in params} - {"token"}),
                "required": sorted(
                    p["name"] for p in params if p.get("required") and p["name"] != "token"
                ),
                "example": shape(example, keep_lists=False)
                if isinstance(example, dict)
                else {"ok": False},
            }
    payloads = {
        relative: shape(
            json.loads(corpora.joinpath(*SAMPLES, relative).read_text(encoding="utf-8")),
            keep_lists=True,
        )
        for relative in PAYLOADS
    }
    return {
        "source": {
            "spec": "slackapi/slack-api-specs web-api/slack_web_openapi_v2.json",
            "payloads": "slackapi/java-slack-sdk json-logs/samples (field names only)",
            "generated_by": "scripts/slack_api_table.py",
        },
        "methods": methods,
        "payloads": payloads,
    }


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


def main() -> None:
    default = Path(os.environ.get("FOLLOWUP_CORPORA", REPO.parent / "shared" / "corpora"))
    corpora = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    TABLE.write_text(render(build(corpora)), encoding="utf-8")
    print(f"wrote {TABLE.relative_to(REPO)} from {corpora}")


if __name__ == "__main__":
    main()
