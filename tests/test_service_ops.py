"""`followup run` as an operator sees it: logs with timestamps (or JSON), /healthz, /readyz and
/metrics in the no-Slack mode, and a clean exit (0) on SIGTERM."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import SecretStr

from observe.logs import configure_logging
from settings import Settings

REPO = Path(__file__).resolve().parent.parent
FOLLOWUP = Path(sys.executable).with_name("followup")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def start(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    base |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
        "PIPELINE_FILE": str(REPO / "examples" / "pipeline.json"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    assert (
        subprocess.run(
            [str(FOLLOWUP), "db", "upgrade"],
            env=base | env,
            cwd=tmp_path,
            check=False,
            capture_output=True,
        ).returncode
        == 0
    )
    return subprocess.Popen(
        [str(FOLLOWUP), "run", "--interval", "2", "--health-port", str(port)],
        env=base | env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(port: int, process: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            status, body = get(f"http://127.0.0.1:{port}/readyz")
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            loaded: dict[str, object] = json.loads(body)
            return loaded
        time.sleep(0.2)
    raise AssertionError("never ready")


REPLY = """\
From: Priya Nair <priya.nair@saltbushhealth.example>
To: maya@fernhill.example
Subject: Re: Proposal
Message-ID: <reply-1@saltbushhealth.example>
Date: Fri, 20 Nov 2026 10:00:00 +0000

Thanks, this looks good. Can we talk on Tuesday?
"""


def test_run_without_slack_serves_health_logs_cycles_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "outbox" / "inbox").mkdir(parents=True)
    (tmp_path / "outbox" / "inbox" / "reply.eml").write_text(REPLY)
    process = start(tmp_path, port)
    try:
        ready = wait_ready(port, process)
        assert ready["checks"] == {
            "database": "ok",
            "crm": "ok",
            "mailbox": "ok",
            "last_cycle": "ok",
        }
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        status, exposition = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'followup_cycles_total{outcome="ok"}' in exposition
        assert 'followup_drafts_total{event="created",rule="proposal_no_reply"}' in exposition
        assert 'followup_outbox_depth{status="queued"} 0.0' in exposition
        assert "followup_cycle_duration_seconds_count" in exposition
        assert 'followup_inbound_messages_total{verdict="reply"} 1.0' in exposition
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    lines = err.splitlines()
    cycle = next(line for line in lines if "cycle: 25 deals synced" in line)
    assert cycle[:4].isdigit()  # 2026-12-04T19:40:44+0000 INFO followup: cycle: ...
    assert " INFO followup: " in cycle
    assert any("stopping on signal 15" in line for line in lines)
    assert "Traceback" not in err


def test_json_logs_and_an_unready_crm(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, port, LOG_FORMAT="json", PIPELINE_FILE=str(tmp_path / "gone.json"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/readyz")
                if "crm" in body and "the last sync failed" in body:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert status == 503
        assert "gone.json: no such file" in json.loads(body)["checks"]["crm"]
        exposition = get(f"http://127.0.0.1:{port}/metrics")[1]
        assert 'followup_errors_total{kind="PipelineFormatError",system="crm"}' in exposition
        assert 'followup_cycles_total{outcome="sync_failed"}' in exposition
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0
    entries = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["level"] == "warning" and "CRM sync failed" in e["message"] for e in entries)


def test_secrets_are_masked_in_every_log_line() -> None:
    stream = io.StringIO()
    settings = Settings(smtp_password=SecretStr("hunter2-very-secret"), log_level="INFO")
    configure_logging(settings, stream)
    try:
        logging.getLogger("some.library").warning("login with %s failed", "hunter2-very-secret")
    finally:
        configure_logging(Settings())
    assert "hunter2" not in stream.getvalue()
    assert "login with *** failed" in stream.getvalue()
