"""The real `followup tick` on generated pipelines (issue 12), on SQLite and PostgreSQL.

    .venv/bin/python bench/cycle.py                       # 1,000 / 10,000 / 100,000 deals
    .venv/bin/python bench/cycle.py --sizes 1000,10000 --databases sqlite

For each size (deals x 10 activities, written in the pipeline-file format) and database: the
first tick, a tick after 1% of the deals changed (a new reply on each, so the file is read
again), and a tick where nothing changed. Each tick is `followup tick` through its entry point
in a fresh process: seconds, SQL statements issued (counted with SQLAlchemy events), peak
RSS. The floor is merely SELECTing the activity table into Python; each figure is also shown
as a ratio to it, and the first tick beside bulk-loading the same rows (executemany INSERT).
With --profile, the cProfile top lines of the largest case's ticks are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
POSTGRES = DEFAULT_POSTGRES  # --postgres changes it
KINDS = ("email", "call", "meeting", "proposal_sent", "note")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def generate(
    deals: int,
    path: Path,
    *,
    changed: int = 0,
    now: datetime | None = None,
    shift: int = 0,
    only_changed: bool = False,
) -> None:
    """`deals` deals with 10 activities each, streamed to `path` as of `now`: one deal in 20 has
    a proposal unanswered for five days (due), the others a meeting booked ahead (not due until
    it has passed). `changed` deals spread over the pipeline (starting at `shift`) get a reply
    the earlier file did not have; with `only_changed`, the file holds just those deals (a
    change set)."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    owners = [
        {"id": f"u{i}", "name": f"Owner {i}", "email": f"owner{i}@studio.example"}
        for i in range(20)
    ]
    step = max(1, deals // changed) if changed else 0

    def is_changed(i: int) -> bool:
        return bool(step) and (i - shift) % step == 0 and 0 <= (i - shift) // step < changed

    wanted = [i for i in range(deals) if is_changed(i)] if only_changed else range(deals)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"owners": ' + json.dumps(owners) + ', "contacts": [\n')
        for n, i in enumerate(wanted):
            contact = {
                "id": f"c{i}",
                "name": f"Person {i}",
                "email": f"person{i}@company{i % 997}.example",
                "company": f"Company {i % 997}",
                "timezone": "Europe/Berlin" if i % 2 else "America/New_York",
            }
            out.write(("," if n else "") + json.dumps(contact) + "\n")
        out.write('], "deals": [\n')
        for n, i in enumerate(wanted):
            deal = {
                "id": f"d{i}",
                "title": f"Deal {i}",
                "contact_ids": [f"c{i}"],
                "owner_id": f"u{i % 20}",
                "stage": "proposal",
                "stage_entered_at": iso(now - timedelta(days=8)),
                "value": 1000 + i,
                "currency": "USD",
            }
            out.write(("," if n else "") + json.dumps(deal) + "\n")
        out.write('], "activities": [\n')
        first = True
        for i in wanted:
            base = now - timedelta(days=60 + i % 50)
            for j in range(10):
                kind = KINDS[j % len(KINDS)]
                record: dict[str, Any] = {
                    "id": f"a{i}-{j}",
                    "deal_id": f"d{i}",
                    "contact_id": f"c{i}",
                    "kind": kind,
                    "at": iso(base + timedelta(days=j * 5)),
                    "subject": f"Subject {j} of deal {i}",
                }
                if j == 9 and i % 20 == 0:
                    record |= {"kind": "proposal_sent", "at": iso(now - timedelta(days=5))}
                elif j == 9:
                    record |= {
                        "kind": "meeting",
                        "at": iso(now - timedelta(days=2)),
                        "scheduled_for": iso(now + timedelta(days=10 + i % 30)),
                    }
                elif kind == "email":
                    record["direction"] = "out"
                    record["body"] = "Following up on our conversation last week."
                out.write(("" if first else ",") + json.dumps(record) + "\n")
                first = False
            if is_changed(i):
                reply = {
                    "id": f"a{i}-reply",
                    "deal_id": f"d{i}",
                    "contact_id": f"c{i}",
                    "kind": "email",
                    "direction": "in",
                    "at": iso(now - timedelta(hours=1)),
                    "from": f"person{i}@company{i % 997}.example",
                    "body": "Thanks, let us talk next week.",
                }
                out.write("," + json.dumps(reply) + "\n")
        out.write("]}\n")


# --------------------------------------------------------------------------- one tick


def child(database_url: str, profile: str | None, changes: str | None = None) -> None:
    """Run `followup tick` through its entry point, counting SQL statements."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    count = [0]

    def seen(*_args: Any) -> None:
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", seen)
    import flows.cycle
    from cli import main

    cycle = [0.0]
    run_cycle = flows.cycle.run_cycle

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return run_cycle(*args, **kwargs)
        finally:
            cycle[0] += time.perf_counter() - began

    flows.cycle.run_cycle = timed  # the tick command looks it up when it runs
    if changes:
        # A CRM with an incremental cursor hands over what changed: here, a file of those
        # deals, merged as a change set through the same sync.
        from dataclasses import replace

        from crm.base import SyncResult
        from crm.local import LocalCrm, load_pipeline_file

        source = Path(changes)

        def change_set(self: LocalCrm, now: datetime, cursor: str | None = None) -> SyncResult:
            loaded = load_pipeline_file(source)
            return replace(loaded, snapshot=False, cursor=cursor)

        LocalCrm.fetch = change_set  # type: ignore[method-assign]

    sys.argv = ["followup", "tick"]
    started = time.perf_counter()
    try:
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            with contextlib.suppress(SystemExit):
                profiler.runcall(main)
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(25)
        else:
            main()
    except SystemExit:
        pass
    elapsed = time.perf_counter() - started
    figures = {"seconds": elapsed, "cycle": cycle[0], "statements": count[0]}
    print(json.dumps(figures), file=sys.__stderr__)


def tick(env: dict[str, str], profile: bool, changes: Path | None = None) -> dict[str, float]:
    command = [sys.executable, __file__, "--child"] + (["--child-profile"] if profile else [])
    if changes is not None:
        command += ["--child-changes", str(changes)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    errors = process.stderr.read() if process.stderr else ""
    if status != 0:
        raise SystemExit(f"tick failed ({status}):\n{errors}")
    last = json.loads(errors.strip().splitlines()[-1])
    if profile:
        print("\n".join(errors.strip().splitlines()[:-1][:45]))
    return {
        "wall": wall,
        "seconds": last["seconds"],
        "cycle": last["cycle"],
        "statements": last["statements"],
        "rss_mb": usage.ru_maxrss / 1024,
    }


def floors(url: str) -> tuple[float, float]:
    """Seconds to SELECT the activity table into Python, and to bulk-load those rows."""
    from sqlalchemy import Column, MetaData, Table, create_engine, select

    from storage.tables import ActivityRow

    source: Any = ActivityRow.__table__
    columns = [c.name for c in source.columns]
    engine = create_engine(url)
    with engine.connect() as connection:
        started = time.perf_counter()
        rows = [tuple(r) for r in connection.execute(select(source))]
        select_s = time.perf_counter() - started
    bulk = Table(
        "bench_bulk",
        MetaData(),
        *(Column(c.name, c.type) for c in source.columns),
        prefixes=["TEMPORARY"],
    )
    with engine.begin() as connection:
        bulk.create(connection)
        started = time.perf_counter()
        for i in range(0, len(rows), 5000):
            batch = [dict(zip(columns, r, strict=True)) for r in rows[i : i + 5000]]
            connection.execute(bulk.insert(), batch)
        load_s = time.perf_counter() - started
    engine.dispose()
    return select_s, load_s


def floors_apart(url: str) -> tuple[float, float]:
    """`floors` in a process of its own: the rows it holds must not swell this one, whose
    later ticks would start from a copy of it."""
    found = subprocess.run(
        [sys.executable, __file__, "--floors", url], capture_output=True, text=True, check=True
    )
    select_s, load_s = json.loads(found.stdout.strip().splitlines()[-1])
    return float(select_s), float(load_s)


def run(size: int, database: str, work: Path, profile: bool) -> list[str]:
    pipeline = work / f"pipeline-{size}.json"
    now = datetime.now(UTC).replace(microsecond=0)
    generate(size, pipeline, now=now)
    if database == "sqlite":
        url = f"sqlite:///{work / f'followup-{size}.db'}"
        admin_name = None
    else:
        from sqlalchemy import create_engine, text

        admin_name = f"bench_cycle_{uuid.uuid4().hex[:8]}"
        admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{admin_name}"'))
        admin.dispose()
        url = f"{POSTGRES}/{admin_name}"
    env = os.environ | {
        "DATABASE_URL": url,
        "CRM_PROVIDER": "local",
        "PIPELINE_FILE": str(pipeline),
        "MAIL_PROVIDER": "outbox",
        "OUTBOX_DIR": str(work / "outbox"),
        "FOLLOWUP_CONFIG": str(work / "none.toml"),
    }
    for name in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY"):
        env.pop(name, None)
    lines = []
    try:
        first = tick(env, profile)  # the profile, when asked for, is of the first tick
        select_s, load_s = floors_apart(url)
        generate(size, pipeline, changed=max(1, size // 100), now=now)
        changed = tick(env, False)
        nothing = tick(env, False)
        changes = work / f"changes-{size}.json"
        shift = max(1, size // max(1, size // 100)) // 2  # between the file run's deals
        generate(
            size, changes, changed=max(1, size // 100), now=now, shift=shift, only_changed=True
        )
        change_set = tick(env, False, changes)
        rows = (
            ("first", first),
            ("1% changed (file re-read)", changed),
            ("1% changed (change set)", change_set),
            ("nothing changed", nothing),
        )
        for name, figures in rows:
            ratio = figures["cycle"] / select_s if select_s else 0.0
            lines.append(
                f"| {size:,} | {database} | {name} | {figures['wall']:.2f} | "
                f"{figures['cycle']:.2f} | "
                f"{figures['statements']:,} | {figures['rss_mb']:.0f} | {ratio:.1f}x |"
            )
        lines.append(
            f"| {size:,} | {database} | floor: SELECT activities {select_s:.2f} s; bulk-load "
            f"{load_s:.2f} s (first cycle {first['cycle'] / load_s:.1f}x) | | | | | |"
        )
    finally:
        if admin_name is not None:
            from sqlalchemy import create_engine, text

            admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{admin_name}" WITH (FORCE)'))
            admin.dispose()
    return lines


def startup(work: Path) -> list[str]:
    """`followup --help` and `followup queue` against a bare `python -c pass` (best of 5)."""

    def best(command: list[str], env: dict[str, str] | None = None) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
            )
            times.append(time.perf_counter() - started)
        return min(times)

    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{work / 'startup.db'}",
        "FOLLOWUP_CONFIG": str(work / "none.toml"),
    }
    followup = str(Path(sys.executable).with_name("followup"))
    subprocess.run([followup, "queue"], env=env, stdout=subprocess.DEVNULL, check=False)
    bare = best([sys.executable, "-c", "pass"])
    db_open = best(
        [
            sys.executable,
            "-c",
            f"import sqlalchemy as s; s.create_engine({env['DATABASE_URL']!r}).connect().close()",
        ]
    )
    helped = best([followup, "--help"])
    queue = best([followup, "queue"], env)
    return [
        f"python -c pass {bare:.3f} s; DB open {db_open:.3f} s; followup --help {helped:.3f} s "
        f"({helped / bare:.1f}x bare); followup queue {queue:.3f} s "
        f"({queue / (bare + db_open):.1f}x bare + DB open)"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the first tick of the largest case"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floors", help=argparse.SUPPRESS)
    parser.add_argument("--child-changes", help=argparse.SUPPRESS)
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help="server URL, without a database"
    )
    args = parser.parse_args()
    if args.child:
        child(os.environ["DATABASE_URL"], "yes" if args.child_profile else None, args.child_changes)
        return
    if args.floors:
        print(json.dumps(floors(args.floors)))
        return
    global POSTGRES
    POSTGRES = args.postgres
    sizes = [int(s) for s in args.sizes.split(",")]
    databases = args.databases.split(",")
    print(
        "| deals | database | tick | process s | cycle s | statements | peak RSS MB |"
        " cycle / floor |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for size in sizes:
            for database in databases:
                largest = args.profile and size == max(sizes) and database == databases[-1]
                for line in run(size, database, work, largest):
                    print(line, flush=True)
        for line in startup(work):
            print(line)


if __name__ == "__main__":
    main()
