"""How well `reading.read` understands mail: one bench for every figure of reading/.

    .venv/bin/python bench/reading.py [--failures] [--repeat N] [--fuzz N]

1. The project's labelled replies (tests/data/replies.jsonl), per language and split: opt-out
   recall and precision (and how many more a person is asked to "Check first"), human replies
   taken for an auto-reply (must be 0), return date right, intent right, injection recall and
   false-positive rate; rules only (no model).
2. Messages per second through `read` (the labelled replies as raw messages, and a mixed batch
   of large and deeply nested ones: the slowest single verdict is printed too).
3. Fuzzed emails (a fixed seed, 300 by default): crashes and verdicts over 5 s.
4. Conformance against the labelled corpora in ../shared/corpora (FOLLOWUP_CORPORA): per set,
   accuracy, precision and recall of auto-reply, bounce (failed recipient and hard/soft),
   opt-out and complaint detection, and the exact-match rate of the visible reply text. Read
   in place, never copied; skipped with a note when absent.

Project decisions that differ from a label are listed under POLICY and counted both ways.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import datetime as dt  # noqa: E402

from reading import Unreadable, read, read_text  # noqa: E402
from reading.quotes import visible_reply_text  # noqa: E402
from triggers.reading import Bounce as BouncedRecipient  # noqa: E402
from triggers.reading import Reading as MailUnderstanding  # noqa: E402

NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
REPLIES = REPO / "tests" / "data" / "replies.jsonl"
RECEIVED = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)  # the set's replies arrived then


def classify_message(raw: bytes) -> MailUnderstanding:
    return read(raw, now=NOW)


CORPORA = Path(os.environ.get("FOLLOWUP_CORPORA", REPO.parent / "shared" / "corpora"))

# Labels the project deliberately disagrees with, and why (see the issue and the corpora
# README: "X-Auto-Response-Suppress alone ... Precedence: list marks list traffic").
POLICY: dict[str, str] = {
    "autoreply/discourse/auto_generated_precedence.eml": (
        "Precedence: list alone is list traffic, not an out-of-office (kept as reply, bulk=True)"
    ),
    "autoreply/zoonru:X-auto-response-suppress=OOF": (
        "X-Auto-Response-Suppress alone is set by Exchange on ordinary mail"
    ),
    "autoreply/zoonru:X-auto-response-suppress=RN, NRN, AutoReply": (
        "X-Auto-Response-Suppress alone is set by Exchange on ordinary mail"
    ),
    "autoreply/zoonru:X-ms-exchange-inbox-rules-loop=user@example.com": (
        "Rules-Loop alone is ordinary Exchange mail (zammad labels the same header false); "
        "only with X-Auto-Response-Suppress is it an auto-reply"
    ),
    "bounce/sisimai/lhost-opensmtpd-12.eml": (
        "a delay notice (Action: delayed, Status: 4.0.0, 'kept in the queue for up to 7 days'; "
        "'No MX found for domain' is OpenSMTPD's temporary DNS failure) labelled hard, while "
        "the same labels call notaccept with 4.0.0 soft even after Action: failed "
        "(rfc3464-52, rfc3464-59, rhost-gsuite-03, rhost-gsuite-10): soft until a final bounce"
    ),
}

EXACT_KINDS = {
    "trimmed_exact",
    "first_fragment_exact",
    "first_fragment_trimmed_exact",
    "parseReply_exact",
    "visible_text_exact",
    "visible_text_trimmed_exact",
    "visible_reply_exact",
    "extract_from_plain(text/plain part).strip()_exact",
}


@dataclass
class Score:
    """Binary classification counts."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, truth: bool, predicted: bool, name: str) -> None:
        if truth and predicted:
            self.tp += 1
        elif truth:
            self.fn += 1
            self.failures.append(f"missed: {name}")
        elif predicted:
            self.fp += 1
            self.failures.append(f"false positive: {name}")
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else float("nan")

    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")


def pct(value: float) -> str:
    return "   -  " if value != value else f"{value * 100:5.1f}%"


def classify_file(path: Path) -> MailUnderstanding:
    return classify_message(path.read_bytes())


def synthetic(subject: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Someone <someone@example.com>"
    msg["To"] = "founder@followup.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 03 Jun 2024 10:00:00 +0000"
    msg["Message-ID"] = "<synthetic@example.com>"
    for name, value in headers:
        msg[name] = value
    msg.set_content("Hello,\n\nthis is the body.\n")
    return msg.as_bytes()


def bench_autoreply(rows: list[tuple[str, ...]]) -> None:
    raw, policy = Score(), Score()
    human_as_auto: list[str] = []
    base = CORPORA / "autoreply"
    with (base / "labels.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = f"autoreply/{row['filename']}"
            truth = row["is_autoreply"].strip().lower() == "true"
            got = classify_file(base / row["filename"]).kind == "auto_reply"
            raw.add(truth, got, key)
            policy.add(not truth if key in POLICY else truth, got, key)
            if not truth and got:
                human_as_auto.append(key)
    with (base / "php-bounce-handler-zoonru" / "subject_and_header_cases.csv").open(
        encoding="utf-8"
    ) as handle:
        for row in csv.DictReader(handle):
            headers = [(row["header_name"], row["header_value"])] if row["header_name"] else []
            name = (
                f"autoreply/zoonru:{row['header_name']}={row['header_value']}"
                if headers
                else f"autoreply/zoonru:subject={row['subject']}"
            )
            truth = row["expected_is_autoreply"].strip().lower() == "true"
            got = classify_message(synthetic(row["subject"], headers)).kind == "auto_reply"
            raw.add(truth, got, name)
            policy.add(not truth if name in POLICY else truth, got, name)
    rows.append(("auto-reply (labels as given)", *_cells(raw), ""))
    rows.append(
        (
            "auto-reply (project policy)",
            *_cells(policy),
            f"humans taken for auto-reply: {len(human_as_auto)}",
        )
    )
    FAILURES["auto-reply (project policy)"] = policy.failures


def _cells(score: Score) -> tuple[str, str, str, str]:
    return (str(score.n), pct(score.accuracy()), pct(score.precision()), pct(score.recall()))


def label_positions(
    labels: list[dict[str, str]], bounces: tuple[BouncedRecipient, ...]
) -> list[int]:
    """The 0-based recipient each label row is about. Rows that repeat a recipient index
    with different statuses (sisimai's lhost-qmail-25 gives #1 to both of its recipients)
    are resolved by status: the row is about the one recipient reported with its status."""
    positions = [int(row["recipient_index"] or i + 1) - 1 for i, row in enumerate(labels)]
    statuses = [b.status for b in bounces]
    for i, row in enumerate(labels):
        clash = any(
            positions[j] == positions[i] and labels[j]["status"] != row["status"]
            for j in range(len(labels))
            if j != i
        )
        if clash and statuses.count(row["status"]) == 1:
            positions[i] = statuses.index(row["status"])
    return positions


def bench_bounce(rows: list[tuple[str, ...]]) -> None:
    base = CORPORA / "bounce"
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (base / "labels.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_file[row["filename"]].append(row)
    detection = Score()
    hard = Score()
    hard_policy = Score()
    recipient_ok = recipient_n = 0
    hard_rows = hard_rows_ok = 0
    hard_rows_consistent = hard_rows_consistent_ok = 0  # the same, without POLICY labels
    hard_failures: list[str] = []
    for filename, labels in sorted(by_file.items()):
        key = f"bounce/{filename}"
        result = classify_file(base / filename)
        is_bounce = result.kind == "bounce"
        truths = {row["is_bounce"] for row in labels} - {""}
        if truths:
            detection.add("true" in truths, is_bounce, key)
        # flufl.bounce's labels are its permanent/temporary lists: "hard" there means the MTA
        # gave up (our `permanent`); elsewhere "hard" means the address is dead (our `hard`).
        flufl = filename.startswith("flufl.bounce/")
        positions = label_positions(labels, result.bounces)
        for index, row in enumerate(labels):
            if row["is_bounce"] != "true":
                continue
            position = positions[index]
            bounces = result.bounces
            rec = bounces[position] if position < len(bounces) else None
            if rec is None and bounces:
                rec = bounces[0]
            wanted = {a.strip().lower() for a in row["recipients"].split(";") if a.strip()}
            got_addresses = {b.address for b in bounces}
            right_recipient = (
                bool(wanted) and wanted == got_addresses
                if wanted
                else rec is not None and "@" in rec.address
            )
            if wanted:
                recipient_n += 1
                recipient_ok += right_recipient
            label = row["hard_or_soft"]
            if label not in ("hard", "soft", "not-hard"):
                continue
            predicted = bool(rec and is_bounce and (rec.permanent if flufl else rec.hard))
            truth = label == "hard"
            hard.add(truth, predicted, f"{key} #{position + 1} ({row['reason']})")
            hard_policy.add(not truth if key in POLICY else truth, predicted, key)
            if truth:
                hard_rows += 1
                hard_rows_consistent += key not in POLICY
                if predicted and right_recipient:
                    hard_rows_ok += 1
                    hard_rows_consistent_ok += key not in POLICY
                elif key not in POLICY:
                    hard_failures.append(f"{key} #{position + 1}")
    rows.append(("bounce detection", *_cells(detection), ""))
    rows.append(
        (
            "hard bounce (labels as given)",
            *_cells(hard),
            f"labelled hard with right recipient: {hard_rows_ok}/{hard_rows}",
        )
    )
    rows.append(
        (
            "hard bounce (project policy)",
            *_cells(hard_policy),
            f"labelled hard with right recipient, POLICY labels left out: "
            f"{hard_rows_consistent_ok}/{hard_rows_consistent}; "
            f"failed recipient = label: {recipient_ok}/{recipient_n}",
        )
    )
    FAILURES["bounce detection"] = detection.failures
    FAILURES["hard bounce (labels as given)"] = hard.failures
    FAILURES["hard bounce: labelled hard, not found (excluding POLICY)"] = hard_failures


def bench_optout(rows: list[tuple[str, ...]]) -> None:
    base = CORPORA / "optout"
    score = Score()
    kind_ok = kind_n = 0
    seen: set[str] = set()
    with (base / "labels.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["filename"] in seen or row["is_optout_or_complaint"].strip() != "true":
                continue
            seen.add(row["filename"])
            key = f"optout/{row['filename']}"
            kind = classify_file(base / row["filename"]).kind
            score.add(True, kind in ("opt_out", "complaint"), key)
            expected = {"complaint"} if row["kind"].startswith("complaint") else {"opt_out"}
            if row["feedback_type"].strip() == "opt-out":
                expected = {"complaint", "opt_out"}  # an unsubscribe either way
            kind_n += 1
            kind_ok += kind in expected
    # Negatives: every human reply of the reply-parsing corpus.
    for path, raw in human_replies():
        kind = classify_message(raw).kind
        score.add(False, kind in ("opt_out", "complaint"), path)
    rows.append(
        (
            "opt-out + complaint",
            *_cells(score),
            f"right kind (opt_out vs complaint): {kind_ok}/{kind_n}",
        )
    )
    FAILURES["opt-out + complaint"] = score.failures


def human_replies() -> list[tuple[str, bytes]]:
    """The reply-parsing corpus as messages: .eml as they are, bodies wrapped in a reply."""
    base = CORPORA / "reply_parsing"
    out: list[tuple[str, bytes]] = []
    for path in sorted(base.rglob("*")):
        if not path.is_file() or path.suffix not in (".eml", ".txt"):
            continue
        relative = path.relative_to(base).as_posix()
        if "/trimmed/" in relative or "/elided/" in relative or "/embedded/" in relative:
            continue
        if "/before/" in relative or "/matchers/" in relative or "/replies/" in relative:
            continue
        raw = path.read_bytes()
        if path.suffix == ".txt":
            msg = EmailMessage()
            msg["From"] = "Prospect <prospect@example.com>"
            msg["To"] = "founder@followup.example"
            msg["Subject"] = "Re: Our proposal"
            msg["Date"] = "Mon, 03 Jun 2024 10:00:00 +0000"
            msg.set_content(raw.decode("utf-8", "replace"))
            raw = msg.as_bytes()
        out.append((f"reply_parsing/{relative}", raw))
    return out


def bench_humans(rows: list[tuple[str, ...]]) -> None:
    counts: dict[str, int] = defaultdict(int)
    wrong: list[str] = []
    replies = human_replies()
    for path, raw in replies:
        kind = classify_message(raw).kind
        counts[kind] += 1
        if kind != "reply":
            wrong.append(f"{kind}: {path}")
    ok = counts["reply"]
    rows.append(
        (
            "human replies stay replies",
            str(len(replies)),
            pct(ok / len(replies) if replies else float("nan")),
            "   -  ",
            "   -  ",
            ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k != "reply") or "",
        )
    )
    FAILURES["human replies stay replies"] = wrong


def bench_visible(rows: list[tuple[str, ...]]) -> None:
    base = CORPORA / "reply_parsing"
    ok = n = 0
    failures: list[str] = []
    by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with (base / "labels.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            expects = [e for e in row["expect"] if e["kind"] in EXACT_KINDS]
            if not expects:
                continue
            expect = expects[0]
            wanted = expect.get("expected")
            if wanted is None:
                wanted = (base / expect["expected_file"]).read_text(encoding="utf-8")
            raw = (base / row["file"]).read_bytes()
            if row["file"].endswith(".eml"):
                got = classify_message(raw).visible_text or ""
            else:
                got = visible_reply_text(raw.decode("utf-8"))
            n += 1
            source = row["file"].split("/", 1)[0]
            by_source[source][1] += 1
            # Leading/trailing whitespace is not part of the text (the labels mix both).
            if got.strip() == wanted.strip():
                ok += 1
                by_source[source][0] += 1
            else:
                failures.append(row["file"])
    detail = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by_source.items()))
    rows.append(
        (
            "visible reply text exact",
            str(n),
            pct(ok / n if n else float("nan")),
            "   -  ",
            "   -  ",
            detail,
        )
    )
    FAILURES["visible reply text exact"] = failures


FAILURES: dict[str, list[str]] = {}


def _ratio(hit: int, total: int) -> str:
    return f"{hit}/{total} ({hit / total * 100:.1f}%)" if total else "-"


def bench_replies(failures: bool) -> None:
    """The labelled replies, rules only, per language and split."""
    cases = [json.loads(line) for line in REPLIES.read_text(encoding="utf-8").splitlines() if line]
    groups: dict[str, list[tuple[dict[str, object], MailUnderstanding]]] = defaultdict(list)
    for case in cases:
        kind = "bounce" if case.get("bounce") else "auto_reply" if case.get("auto_reply") else None
        reading = read_text(str(case["text"]), sent=RECEIVED, now=RECEIVED, kind=kind)
        pair = (case, reading)
        groups[f"lang {case.get('lang', '?')}"].append(pair)
        groups[f"split {case.get('split', '?')}"].append(pair)
        groups["all"].append(pair)
    header = (
        "group",
        "n",
        "opt-out recall",
        "opt-out precision",
        "check first",
        "human as auto",
        "return date",
        "intent",
        "injection recall",
        "injection FP",
    )
    rows = [header]
    missed: list[str] = []
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        pairs = groups[name]
        gold_out = [(c, r) for c, r in pairs if c["intent"] == "opt_out"]
        said_out = [(c, r) for c, r in pairs if r.intent.value == "opt_out"]
        true_out = sum(1 for c, r in gold_out if r.intent.value == "opt_out")
        check = sum(1 for c, r in pairs if r.check_first)
        humans = [(c, r) for c, r in pairs if c["intent"] not in ("out_of_office", "bounce")]
        humans = [(c, r) for c, r in humans if not c.get("auto_reply")]
        as_auto = sum(1 for c, r in humans if r.kind == "auto_reply")
        dated = [(c, r) for c, r in pairs if c.get("return_date") or c.get("resume_on")]
        right_date = 0
        for c, r in dated:
            want = str(c.get("return_date") or c.get("resume_on"))
            got = r.return_date if r.kind == "auto_reply" else r.resume_on
            right_date += got is not None and got.isoformat() == want
        right_intent = sum(1 for c, r in pairs if c["intent"] == r.intent.value)
        injected = [(c, r) for c, r in pairs if c["injection_suspected"]]
        clean = [(c, r) for c, r in pairs if not c["injection_suspected"]]
        rows.append(
            (
                name,
                str(len(pairs)),
                _ratio(true_out, len(gold_out)),
                _ratio(true_out, len(said_out)),
                str(check),
                f"{as_auto}",
                _ratio(right_date, len(dated)),
                _ratio(right_intent, len(pairs)),
                _ratio(sum(r.injection_suspected for c, r in injected), len(injected)),
                _ratio(sum(r.injection_suspected for c, r in clean), len(clean)),
            )
        )
        if name == "all":
            missed = [
                f"{c['lang']} {c['intent']} -> {r.intent.value}: {str(c['text'])[:90]!r}"
                for c, r in pairs
                if c["intent"] != r.intent.value
            ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"labelled replies ({REPLIES.relative_to(REPO)}), rules only")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if failures:
        print("\nintent misses:")
        for line in missed:
            print(f"  {line}")


def _raw(text: str, headers: str = "") -> bytes:
    return (
        "From: Dana <dana@acme.example>\r\nTo: founder@followup.example\r\n"
        "Subject: Re: Proposal\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <m@acme.example>\r\n{headers}\r\n{text}\r\n"
    ).encode()


def bench_speed(repeat: int) -> None:
    """Messages per second through `read`, and the slowest single verdict."""
    cases = [json.loads(line) for line in REPLIES.read_text(encoding="utf-8").splitlines() if line]
    batch = [_raw(str(c["text"])) for c in cases]
    started = time.perf_counter()
    for _ in range(repeat):
        for raw in batch:
            read(raw, now=NOW)
    took = time.perf_counter() - started
    count = len(batch) * repeat
    print(f"\nthroughput: {count} labelled replies in {took:.2f}s = {count / took:.0f} messages/s")
    nested = "From: a@x.example\nSubject: n\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for i in range(3000):
        nested += f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n"
    hostile = {
        "3 MB one line": _raw("word " * 600_000),
        "80 KB footer paragraph": _raw("Thanks.\n\n" + "confidential " * 6_000 + "x" * 2_000),
        "3,000 nested multiparts": nested.encode(),
        "3,000 nested message/rfc822": (
            "From: a@x.example\nContent-Type: message/rfc822\n\n"
            + "From: b@x.example\nContent-Type: message/rfc822\n\n" * 3000
        ).encode(),
    }
    for name, raw in hostile.items():
        started = time.perf_counter()
        try:
            verdict: str = read(raw, now=NOW).kind
        except Exception as error:  # reported, as inspect-email reports it
            verdict = f"unreadable: {error}"
        print(f"  {name}: {verdict} in {time.perf_counter() - started:.2f}s")


def _mutations(seed_raw: bytes, rng: random.Random) -> bytes:
    """One hostile variant of a message: what fuzzing an inbox finds."""
    choice = rng.randrange(9)
    data = bytearray(seed_raw)
    if choice == 0 and data:  # flipped bytes
        for _ in range(rng.randint(1, 50)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif choice == 1 and data:  # cut anywhere
        del data[rng.randrange(len(data)) :]
    elif choice == 2:  # nested multiparts
        depth = rng.choice([50, 500, 3000])
        body = "".join(
            f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n" for i in range(depth)
        )
        data = bytearray(b"Content-Type: multipart/mixed; boundary=b0\n" + seed_raw + body.encode())
    elif choice == 3:  # nested attached messages
        depth = rng.choice([50, 500, 3000])
        data = bytearray(b"Content-Type: message/rfc822\n\n" * depth + seed_raw)
    elif choice == 4:  # one enormous line
        data += b"\n" + rng.choice([b"x", b"confidential ", b"> ", b"unsubscribe "]) * rng.choice(
            [20_000, 200_000]
        )
    elif choice == 5:  # broken encodings and charsets
        data = bytearray(
            b"Content-Type: text/plain; charset=x-unknown-\xff\nContent-Transfer-Encoding: "
            + rng.choice([b"base64", b"quoted-printable", b"8bit", b"x-uuencode"])
            + b"\n"
            + seed_raw
            + bytes(rng.randrange(256) for _ in range(500))
        )
    elif choice == 6:  # encoded-word soup in headers
        words = b"=?utf-8?b?" + bytes(rng.randrange(33, 126) for _ in range(60)) + b"?="
        data = bytearray(b"Subject: " + words * 200 + b"\nFrom: " + words + b"\n" + seed_raw)
    elif choice == 7:  # a report with a garbled delivery status
        data = bytearray(
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=z\n\n"
            b"--z\nContent-Type: message/delivery-status\n\n"
            + bytes(rng.randrange(256) for _ in range(2000))
            + b"\n--z--\n"
        )
    else:  # random bytes
        data = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 5000)))
    return bytes(data)


def bench_fuzz(count: int, seed: int) -> None:
    """Fuzzed emails with a fixed seed: crashes and verdicts over 5 s (both must be 0)."""
    rng = random.Random(seed)
    cases = [json.loads(line) for line in REPLIES.read_text(encoding="utf-8").splitlines() if line]
    seeds = [_raw(str(c["text"])) for c in cases[:50]]
    crashes: list[str] = []
    slow: list[str] = []
    unreadable = 0
    worst = 0.0
    for n in range(count):
        raw = _mutations(rng.choice(seeds), rng)
        started = time.perf_counter()
        try:
            read(raw, now=NOW)
        except Unreadable:
            unreadable += 1
        except Exception as error:
            crashes.append(f"#{n}: {type(error).__name__}: {error}"[:200])
        took = time.perf_counter() - started
        worst = max(worst, took)
        if took > 5:
            slow.append(f"#{n}: {took:.1f}s")
    print(
        f"\nfuzzed emails (seed {seed}): {count} read, {len(crashes)} crashes, "
        f"{len(slow)} verdicts over 5 s, {unreadable} reported unreadable, slowest {worst:.2f}s"
    )
    for line in crashes[:10] + slow[:10]:
        print(f"  {line}")


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 3
    bench_replies("--failures" in argv)
    bench_speed(repeat)
    fuzz = int(argv[argv.index("--fuzz") + 1]) if "--fuzz" in argv else 300
    bench_fuzz(fuzz, seed=11)
    if not CORPORA.is_dir():
        print(f"\nshared corpora not found at {CORPORA} (set FOLLOWUP_CORPORA): skipped")
        print(f"\n{time.perf_counter() - started:.1f}s")
        return 0
    rows: list[tuple[str, ...]] = []
    bench_autoreply(rows)
    bench_bounce(rows)
    bench_optout(rows)
    bench_visible(rows)
    bench_humans(rows)
    header = ("set", "n", "accuracy", "precision", "recall", "notes")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print(f"\nmail corpus conformance ({CORPORA})")
    print("  ".join(h.ljust(w) for h, w in zip(header[:5], widths, strict=True)) + "  notes")
    for row in rows:
        cells = "  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True))
        print(f"{cells}  {row[5]}")
    print(f"\nPOLICY (labels the project decides otherwise): {len(POLICY)}")
    for key, why in POLICY.items():
        print(f"  {key}: {why}")
    if "--failures" in argv:
        for name, failures in FAILURES.items():
            if failures:
                print(f"\n{name}:")
                for failure in failures:
                    print(f"  {failure}")
    print(f"\n{time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
