"""Slack request payloads for tests, shaped like the real ones in `corpora/slack/`.

The corpus samples (java-slack-sdk's json-logs, their field names tabled in
`tests/bot/slack_api.json`) are schema-merged: every optional field at
once, with empty values. A fixture here starts from such a sample and keeps only the fields
that apply, filled in; `shape` refuses a field the sample does not have, so a fixture never
invents one. Elements clicked are read from what the bot actually rendered.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.conftest import corpus_file

TEAM = "T0TEST"
APP = "A0FOLLOWUP"


# The Web API methods followup calls and the payloads' field names, generated from the corpora
# by scripts/slack_api_table.py (tests/bot/test_slack_api_table.py keeps it in step).
TABLE = Path(__file__).with_name("slack_api.json")


@cache
def _table() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TABLE.read_text(encoding="utf-8"))
    return loaded


def sample(relative: str) -> dict[str, Any]:
    """The field names of a java-slack-sdk sample payload (values blanked)."""
    loaded: dict[str, Any] = json.loads(json.dumps(_table()["payloads"][relative]))
    return loaded


def shape(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`values`, checked against the sample's keys (nested dicts are shaped the same way)."""
    shaped: dict[str, Any] = {}
    for key, value in values.items():
        assert key in template, f"{key!r} is not a field of the real payload"
        if isinstance(value, dict) and isinstance(template[key], dict) and template[key]:
            value = shape(template[key], value)
        shaped[key] = value
    return shaped


def _user(template: dict[str, Any], user_id: str, name: str) -> dict[str, Any]:
    return shape(template["user"], {"id": user_id, "username": name, "name": name, "team_id": TEAM})


def find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    """(block_id, element) of the first element with this action_id in rendered blocks."""
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    raise AssertionError(f"no element {action_id!r} in the rendered blocks")


def action(
    blocks: list[dict[str, Any]], action_id: str, option: str | None = None
) -> dict[str, Any]:
    """What Slack sends when a person clicks an element we rendered (`option`: a substring of
    the chosen option's value, for selects and overflow menus)."""
    template = sample("app-backend/interactive-components/BlockActionPayload.json")["actions"][0]
    block_id, element = find_element(blocks, action_id)
    values: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": element["type"],
        "action_ts": f"{time.time():.6f}",
    }
    if element["type"] == "button":
        values["text"] = element["text"]
        values["value"] = element.get("value", "")
        if "style" in element:
            values["style"] = element["style"]
    else:
        options = element["options"]
        chosen = next(o for o in options if option is None or option in o["value"])
        values["selected_option"] = {"text": chosen["text"], "value": chosen["value"]}
    return shape(template, values)


def block_actions(
    act: dict[str, Any],
    *,
    user: tuple[str, str],
    channel: str | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    response_url: str | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """A `block_actions` payload from a message (channel + message) or a view (home, modal)."""
    template = sample("app-backend/interactive-components/BlockActionPayload.json")
    values: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "northwind"},
        "user": _user(template, *user),
        "api_app_id": APP,
        "token": "verification-token",
        "trigger_id": f"{time.time_ns()}.{TEAM}.trigger",
        "actions": [act],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    if view is not None:
        values["container"] = {"type": "view", "view_id": view["id"]}
        values["view"] = {
            key: view[key]
            for key in ("id", "type", "private_metadata", "callback_id", "state", "hash")
            if key in view
        } | {"team_id": TEAM, "app_id": APP, "bot_id": "B0BOT"}
        values["view"].setdefault("state", {"values": {}})
    else:
        assert channel is not None
        assert message is not None
        values["container"] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        values["channel"] = {"id": channel, "name": "review"}
        values["message"] = {
            "type": "message",
            "text": message.get("text", ""),
            "ts": message["ts"],
            "bot_id": "B0BOT",
            "blocks": message.get("blocks") or [],
        }
    if response_url is not None:
        values["response_url"] = response_url
    shaped = shape(template, values)
    if view is not None:
        shaped["view"]["blocks"] = view.get("blocks", [])  # blocks are not in the sample's view
    return shaped


def typed_state(view: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    """`view.state` as Slack sends it: each input's value (`typed` by block_id, else the
    initial value)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        if element["type"] == "checkboxes":  # typed "yes": every option ticked
            ticked = element["options"] if typed.get(block["block_id"]) == "yes" else []
            values[block["block_id"]] = {
                element["action_id"]: {"type": "checkboxes", "selected_options": ticked}
            }
            continue
        value = typed.get(block["block_id"], element.get("initial_value"))
        values[block["block_id"]] = {
            element["action_id"]: {"type": element["type"], "value": value}
        }
    return {"values": values}


def view_submission(
    view: dict[str, Any], typed: dict[str, str], *, user: tuple[str, str]
) -> dict[str, Any]:
    template = sample("app-backend/views/ViewSubmissionPayload.json")
    submitted = shape(
        template["view"],
        {
            "id": view["id"],
            "team_id": TEAM,
            "type": "modal",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": typed_state(view, typed),
            "hash": view.get("hash", ""),
            "title": view.get("title"),
            "app_id": APP,
            "bot_id": "B0BOT",
        },
    )
    payload = shape(
        template,
        {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "northwind"},
            "user": _user(template, *user),
            "api_app_id": APP,
            "token": "verification-token",
            "trigger_id": f"{time.time_ns()}.{TEAM}.trigger",
            "view": submitted,
            "is_enterprise_install": False,
            "enterprise": None,
        },
    )
    payload["view"]["blocks"] = view.get("blocks", [])  # blocks are not in the sample's view
    return payload


def slash_command(
    text: str, *, user: tuple[str, str], response_url: str, channel: str = "C0REVIEW"
) -> dict[str, str]:
    template = sample("app-backend/slash-commands/SlashCommandPayload.json")
    return shape(
        template,
        {
            "token": "verification-token",
            "api_app_id": APP,
            "team_id": TEAM,
            "team_domain": "northwind",
            "channel_id": channel,
            "channel_name": "review",
            "user_id": user[0],
            "user_name": user[1],
            "command": "/followup",
            "text": text,
            "response_url": response_url,
            "trigger_id": f"{time.time_ns()}.{TEAM}.trigger",
        },
    )


def app_home_opened(user: str) -> dict[str, Any]:
    template = sample("events/AppHomeOpenedPayload.json")
    return shape(
        template,
        {
            "token": "verification-token",
            "team_id": TEAM,
            "api_app_id": APP,
            "type": "event_callback",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "authorizations": [
                shape(
                    template["authorizations"][0],
                    {
                        "team_id": TEAM,
                        "user_id": "U0BOT",
                        "is_bot": True,
                        "is_enterprise_install": False,
                    },
                )
            ],
            "is_ext_shared_channel": False,
        },
    )


# --------------------------------------------------------------------------- signing


def signed_headers(
    body: str, secret: str, *, timestamp: int | None = None, content_type: str
) -> dict[str, str]:
    """The headers Slack sends: SignatureVerifier's `v0=` HMAC over `v0:{timestamp}:{body}`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }


def interaction_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def command_body(fields: dict[str, Any]) -> str:
    return urlencode(
        {k: ("true" if v is True else "false" if v is False else v) for k, v in fields.items()}
    )


def corpus_signing_vector() -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(
        corpus_file("slack", "signing", "slack_docs_request_signing_vector.json").read_text()
    )
    return vector


def spec_path() -> Path:
    return TABLE
