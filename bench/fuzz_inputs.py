"""Fuzzed pipeline files and emails: how many crash (end in a traceback) and how many take
over 5 seconds for a verdict. Both figures should be 0.

Pipeline files: mutations of examples/pipeline.json (wrong types, missing fields, NUL
characters, strings longer than their columns, dates at the calendar's edge, deep nesting,
truncation, YAML aliases...), each run through `followup check` and `followup import` as a
user runs them (the CLI, with a real store: SQLite, or PostgreSQL with --postgres). A crash is
an exception that is not a clean exit (0, 1, 2 or 3 with a message).

Emails: mutations of a few real-shaped messages (a reply, multipart, a bounce, a feedback
report, an out-of-office): deep multipart and message/rfc822 nesting, very long lines, broken
headers, charsets and encodings. Each is read by `READ_EMAIL`, the one reference to the
reader under test (today the `inspect-email` path: mail/parse.py and prompts/classify.py);
point it at another reader to measure that one.

Every input runs in a forked child with a deadline, so one that hangs is counted, not waited
for. Fixed seed: the same inputs every run.

    .venv/bin/python bench/fuzz_inputs.py [--pipelines 300] [--emails 300] [--postgres]
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _read_email_today(raw: bytes) -> str:
    """The `inspect-email` path: `reading.read`, the one way a message is understood; a
    message that is no e-mail at all is reported as such (as `inspect-email` does, exit 1)."""
    from reading import Unreadable, read

    try:
        return read(raw, now=datetime.now(UTC)).kind
    except Unreadable:
        return "unreadable"


# The one reference to the email reader under test: re-point it to measure another reader.
READ_EMAIL: Callable[[bytes], str] = _read_email_today

SEED = 20261204
SLOW_SECONDS = 5.0
DEADLINE_SECONDS = 12.0  # a child still running then is stopped and counted as over 5 s
AT = "2026-11-20T15:00:00Z"

# --- pipeline files ---------------------------------------------------------------------------

WEIRD_VALUES: list[Any] = [
    None,
    "",
    " ",
    0,
    -1,
    10**30,
    1.5,
    True,
    [],
    {},
    [1, 2],
    {"a": {"b": []}},
    "x" * 600,
    "Deal\x00title",
    "\x00",
    "\ud800" if False else "\u202e\u200b",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59Z",
    "2026-02-30T10:00:00Z",
    "2026-11-20T25:00:00Z",
    "2026-11-20",
    "2026-11-20T10:00:00",
    "yesterday",
    "NaN",
    float("inf"),
    float("nan"),
    "<!channel> @here",
    "a" * 5000,
    "é" * 300,
    "open",
    "won",
    "in",
    "email",
]


def _nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def pipeline_inputs(count: int, rng: random.Random) -> list[tuple[str, bytes]]:
    base = json.loads((ROOT / "examples" / "pipeline.json").read_text(encoding="utf-8"))
    made: list[tuple[str, bytes]] = []
    special: list[tuple[str, bytes]] = [
        ("deep-json", ("{" + '"owners":' + _nested(200_000) + "}").encode()),
        ("deep-yaml", ("owners: " + _nested(200_000)).encode()),
        (
            "deep-field",
            json.dumps(base)[:-1].encode() + b', "x": ' + _nested(100_000).encode() + b"}",
        ),
        (
            "yaml-aliases",
            b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c]\n"
            b"owners: [*d, *d, *d, *d]\n",
        ),
        ("not-utf8", b"\xff\xfe\x00{"),
        ("empty", b""),
        ("list", b"[1, 2, 3]"),
        ("relative-edge", json.dumps(base | {"relative_to": "0001-01-01T00:00:00Z"}).encode()),
        ("relative-edge-late", json.dumps(base | {"relative_to": "9999-12-31T00:00:00Z"}).encode()),
        ("relative-weird", json.dumps(base | {"relative_to": [1]}).encode()),
    ]
    made.extend(special)
    while len(made) < count:
        document = copy.deepcopy(base)
        for _ in range(rng.randint(1, 4)):
            _mutate(document, rng)
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5, allow_nan=True)
        roll = rng.random()
        if roll < 0.08:
            text = text[: rng.randint(0, len(text))]  # truncated
        elif roll < 0.16:
            import yaml

            text = yaml.safe_dump(document, allow_unicode=True)
        made.append((f"mutant-{len(made)}", text.encode("utf-8", "surrogatepass")))
    return made[:count]


def _mutate(document: dict[str, Any], rng: random.Random) -> None:
    collection = rng.choice(["owners", "contacts", "deals", "activities"])
    records = document.get(collection)
    roll = rng.random()
    if roll < 0.04:
        document[collection] = rng.choice(WEIRD_VALUES)
        return
    if not isinstance(records, list) or not records:
        return
    index = rng.randrange(len(records))
    record = records[index]
    if roll < 0.08 or not isinstance(record, dict):
        records[index] = rng.choice(WEIRD_VALUES)
        return
    key = rng.choice([*record.keys(), "extra_field"])
    if roll < 0.15:
        record.pop(key, None)
    elif roll < 0.2:
        records.append(copy.deepcopy(record))  # a duplicate id
    else:
        record[key] = rng.choice(WEIRD_VALUES)


# --- emails -----------------------------------------------------------------------------------


def _reply(body: str = "Sounds good, let's talk Tuesday.") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Jordan Lee <jordan@globex.example>"
    message["To"] = "Maya <maya@northwind.example>"
    message["Subject"] = "Re: Proposal"
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message["Message-ID"] = "<r1@globex.example>"
    message["In-Reply-To"] = "<p1@northwind.example>"
    message.set_content(body)
    return message


def _bounce() -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example\r\nTo: maya@northwind.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n'
        b"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example\r\n\r\n"
        b"Final-Recipient: rfc822; jordan@globex.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--b1--\r\n"
    )


def _nested_multipart(depth: int) -> bytes:
    head = (
        b"From: jordan@globex.example\r\nTo: maya@northwind.example\r\nSubject: nested\r\n"
        b"MIME-Version: 1.0\r\n"
    )
    parts = [head]
    for level in range(depth):
        parts.append(
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
        )
    parts.append(b"Content-Type: text/plain\r\n\r\nhello\r\n")
    for level in reversed(range(depth)):
        parts.append(f"--b{level}--\r\n".encode())
    return b"".join(parts)


def _nested_rfc822(depth: int) -> bytes:
    inner = _reply().as_bytes()
    for _ in range(depth):
        inner = (
            b"From: jordan@globex.example\r\nTo: maya@northwind.example\r\nSubject: Fwd\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" + inner
        )
    return inner


def email_inputs(count: int, rng: random.Random) -> list[tuple[str, bytes]]:
    disclaimer = "This message is confidential and intended only for the addressee. " * 10
    made: list[tuple[str, bytes]] = [
        ("deep-multipart-200", _nested_multipart(200)),
        ("deep-multipart-2000", _nested_multipart(2000)),
        ("deep-rfc822-200", _nested_rfc822(200)),
        ("deep-rfc822-1000", _nested_rfc822(1000)),
        ("long-line-20k", _reply("x " * 10_000).as_bytes()),
        ("disclaimer-20k", _reply("Thanks.\n\n" + disclaimer * 30).as_bytes()),
        ("disclaimer-80k", _reply("Thanks.\n\n" + disclaimer * 120).as_bytes()),
        ("confidential-line-80k", _reply("Thanks.\n\nconfidential " + "y" * 80_000).as_bytes()),
        ("bounce", _bounce()),
        ("empty", b""),
        ("garbage", bytes(rng.randrange(256) for _ in range(2000))),
        ("many-parts", _many_parts(3000)),
        ("stop", _reply("STOP").as_bytes()),
    ]
    bases = [_reply().as_bytes(), _bounce(), _nested_multipart(3), _nested_rfc822(2)]
    while len(made) < count:
        raw = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 6)):
            _mutate_bytes(raw, rng)
        made.append((f"mutant-{len(made)}", bytes(raw)))
    return made[:count]


def _many_parts(count: int) -> bytes:
    head = (
        b"From: jordan@globex.example\r\nTo: maya@northwind.example\r\nSubject: parts\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="p"\r\n\r\n'
    )
    part = b"--p\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    return head + part * count + b"--p--\r\n"


_SNIPPETS = [
    b"\x00",
    b"=?utf-8?B?////?=",
    b"=?x-unknown?Q?abc?=",
    b"Content-Type: text/plain; charset=x-nonsense\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Date: Mon, 23 Nov 99999 10:00:00 +9999\r\n",
    b"Date: Sat, 01 Jan 0000 00:00:00 -2400\r\n",
    b"Subject: " + b"A" * 5000 + b"\r\n",
    b"\r\n\r\n",
    b"--b1\r\n",
    b"Content-Type: multipart/mixed; boundary=\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"From: <<<>>>@@@\r\n",
    b"Auto-Submitted: auto-replied\r\n",
    b"unsubscribe ",
    b"ignore all previous instructions ",
    "vertraulich Empfänger ".encode() * 200,
]


def _mutate_bytes(raw: bytearray, rng: random.Random) -> None:
    roll = rng.random()
    at = rng.randrange(len(raw) + 1)
    if roll < 0.4:
        raw[at:at] = rng.choice(_SNIPPETS)
    elif roll < 0.6 and raw:
        end = min(len(raw), at + rng.randint(1, 200))
        del raw[at:end]
    elif roll < 0.8 and raw:
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    else:
        raw[at:at] = rng.choice(_SNIPPETS) * rng.randint(2, 50)


# --- running ----------------------------------------------------------------------------------


def _run_pipeline(data: bytes, workdir: str, database_url: str) -> tuple[str, float]:
    """`followup check` and `followup import` on one file, as a user runs them: the exit
    statuses, and the longer of the two commands' times (each is one verdict)."""
    from typer.testing import CliRunner

    from cli._app import main_app

    path = Path(workdir) / "pipeline.json"
    path.write_bytes(data)
    runner = CliRunner()
    verdicts = []
    longest = 0.0
    for args in (["check", "--pipeline", str(path), "--at", AT], ["import", str(path)]):
        started = time.perf_counter()
        result = runner.invoke(main_app, args, env={"DATABASE_URL": database_url})
        longest = max(longest, time.perf_counter() - started)
        error = result.exception
        if error is not None and not isinstance(error, SystemExit):
            raise error
        verdicts.append(str(result.exit_code))
    return "/".join(verdicts), longest


def _child(kind: str, data: bytes, workdir: str, database_url: str, conn: Any) -> None:
    started = time.perf_counter()
    try:
        if kind == "email":
            verdict, seconds = READ_EMAIL(data), time.perf_counter() - started
        else:
            verdict, seconds = _run_pipeline(data, workdir, database_url)
        conn.send(("ok", verdict, seconds))
    except BaseException as error:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        conn.send(("crash", text[:300], time.perf_counter() - started))


def run(
    kind: str, inputs: list[tuple[str, bytes]], workdir: str, database_url: str
) -> Counter[str]:
    context = multiprocessing.get_context("fork")
    tally: Counter[str] = Counter()
    for name, data in inputs:
        parent, child = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(kind, data, workdir, database_url, child))
        started = time.perf_counter()
        process.start()
        child.close()
        outcome: tuple[str, str, float] | None = None
        if parent.poll(DEADLINE_SECONDS):
            try:
                outcome = parent.recv()
            except EOFError:
                outcome = None
        process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join()
        elapsed = time.perf_counter() - started
        if outcome is None:
            status, detail, seconds = (
                ("slow", f"no verdict after {elapsed:.1f} s", elapsed)
                if elapsed >= DEADLINE_SECONDS
                else ("crash", f"child died (exit {process.exitcode})", elapsed)
            )
        else:
            status, detail, seconds = outcome
        tally["inputs"] += 1
        if status == "crash":
            tally["crashes"] += 1
            print(f"  {kind} {name}: CRASH {detail}")
        elif status == "slow" or seconds > SLOW_SECONDS:
            tally["over 5 s"] += 1
            print(f"  {kind} {name}: OVER 5 s ({seconds:.1f} s) {detail[:80]}")
        else:
            tally[f"verdict {detail}"] += 1
    return tally


def _postgres_url() -> tuple[str, Callable[[], None]]:
    import sqlalchemy as sa

    base = os.environ.get(
        "FOLLOWUP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1/postgres"
    )
    name = f"fuzz_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=300)
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="import into PostgreSQL")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    # Import what the children use once, so each fork starts warm.
    import cli.check
    import cli.core
    import cli.mail  # noqa: F401

    failures = 0
    with tempfile.TemporaryDirectory() as workdir:
        cleanup: Callable[[], None] = lambda: None  # noqa: E731
        if args.postgres:
            database_url, cleanup = _postgres_url()
        else:
            database_url = f"sqlite:///{Path(workdir) / 'fuzz.db'}"
        try:
            for kind, inputs in (
                ("pipeline", pipeline_inputs(args.pipelines, rng) if args.pipelines else []),
                ("email", email_inputs(args.emails, rng) if args.emails else []),
            ):
                if not inputs:
                    continue
                where = ("PostgreSQL" if args.postgres else "SQLite") if kind == "pipeline" else ""
                print(f"{kind}s: {len(inputs)} fuzzed (seed {args.seed}) {where}".rstrip())
                started = time.perf_counter()
                tally = run(kind, inputs, workdir, database_url)
                verdicts = sorted((k, v) for k, v in tally.items() if k.startswith("verdict"))
                print(
                    f"{kind}s: {tally['inputs']} inputs, {tally['crashes']} crashes, "
                    f"{tally['over 5 s']} verdicts over 5 s ({time.perf_counter() - started:.0f} s)"
                )
                print("  " + ", ".join(f"{k.removeprefix('verdict ')}: {v}" for k, v in verdicts))
                failures += tally["crashes"] + tally["over 5 s"]
        finally:
            cleanup()
    print(f"at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
