"""reading/ against the real corpora in ../shared/corpora, with their labels.

The corpora are read in place (FOLLOWUP_CORPORA, default <repo>/../shared/corpora); every test
here is skipped with a clear reason when they are absent. Labels the project decides
otherwise are listed in POLICY with the reason (bench/mail_corpus.py lists the same).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest

from reading import ParsedMessage, parse_message, read, understand
from reading.quotes import visible_reply_text
from triggers.reading import Reading

NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


def classify_message(message: bytes | ParsedMessage) -> Reading:
    if isinstance(message, ParsedMessage):
        return understand(message, now=NOW)
    return read(message, now=NOW)


REPO = Path(__file__).resolve().parents[2]
CORPORA = Path(os.environ.get("FOLLOWUP_CORPORA", REPO.parent / "shared" / "corpora"))

pytestmark = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"corpora not found at {CORPORA} (set FOLLOWUP_CORPORA)"
)

# Labels the project deliberately decides otherwise (see issue 5 and corpora/README.md).
POLICY_NOT_AUTO_REPLY = {
    "discourse/auto_generated_precedence.eml",  # Precedence: list alone is list traffic
    "X-auto-response-suppress=OOF",  # X-Auto-Response-Suppress alone: ordinary Exchange mail
    "X-auto-response-suppress=RN, NRN, AutoReply",
    "X-ms-exchange-inbox-rules-loop=user@example.com",  # Rules-Loop alone (zammad: false)
}
# A delay notice labelled hard (Action: delayed, 4.0.0, "kept in the queue"), while the same
# labels call notaccept with 4.0.0 soft even after Action: failed (rhost-gsuite-03): soft.
POLICY_NOT_HARD = {"sisimai/lhost-opensmtpd-12.eml"}
# Known shortfalls, kept visible: a fix makes the strict xfail fail, so it gets noticed.
KNOWN_NOT_HARD: dict[str, str] = {}
KNOWN_NOT_BOUNCE = {
    "sisimai/lhost-fml-02.eml": "a mailing list's 'you are not a member' reply",
    "sisimai/lhost-fml-03.eml": "a mailing list's rejection, no delivery failure",
}
KNOWN_VISIBLE = {
    "discourse-email_reply_trimmer/emails/embedded_email_7.txt": "inline replies kept by label",
    "discourse-email_reply_trimmer/emails/embedded_email_17.txt": "label keeps a nested quote",
    "crisp-email-reply-parser/email_with_regards.txt": "label drops a sign-off others keep",
    "talon-standard_replies/iphone.eml": "talon keeps 'Sent from my iPhone'; we drop it",
    "talon-standard_replies/sparrow.eml": "talon keeps the '-- ' signature; we drop it",
}


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _all_corpus_messages() -> list[Path]:
    if not CORPORA.is_dir():
        return []
    out: list[Path] = []
    for folder in ("autoreply", "bounce", "optout", "reply_parsing"):
        for path in sorted((CORPORA / folder).rglob("*")):
            if path.is_file() and path.suffix in (".eml", ".txt"):
                out.append(path)
    return out


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(CORPORA).as_posix() for p in paths]


# --- robustness ---------------------------------------------------------------------------


def test_every_corpus_file_parses_and_classifies() -> None:
    """No exception escapes parse_message or classify_message for any corpus file, and no
    header value carries a line break."""
    paths = _all_corpus_messages()
    assert paths
    for path in paths:
        parsed = parse_message(path.read_bytes())
        for name, value in parsed.headers:
            assert not {"\n", "\r"} & set(value), (path, name)
        assert "\n" not in parsed.subject
        classify_message(parsed)


# --- auto-replies -------------------------------------------------------------------------

AUTOREPLY_ROWS = _rows(CORPORA / "autoreply" / "labels.csv")


@pytest.mark.parametrize("row", AUTOREPLY_ROWS, ids=[r["filename"] for r in AUTOREPLY_ROWS])
def test_autoreply_corpus(row: dict[str, str]) -> None:
    expected = row["is_autoreply"].strip().lower() == "true"
    if row["filename"] in POLICY_NOT_AUTO_REPLY:
        expected = False
    result = classify_message((CORPORA / "autoreply" / row["filename"]).read_bytes())
    assert (result.kind == "auto_reply") is expected, result.signals


CASE_ROWS = _rows(
    CORPORA / "autoreply" / "php-bounce-handler-zoonru" / "subject_and_header_cases.csv"
)


def _case_id(row: dict[str, str]) -> str:
    return f"{row['header_name']}={row['header_value']}" if row["header_name"] else row["subject"]


@pytest.mark.parametrize("row", CASE_ROWS, ids=[_case_id(r) for r in CASE_ROWS])
def test_autoreply_subject_and_header_cases(row: dict[str, str]) -> None:
    msg = EmailMessage()
    msg["From"] = "someone@example.com"
    msg["To"] = "founder@followup.example"
    msg["Subject"] = row["subject"]
    if row["header_name"]:
        msg[row["header_name"]] = row["header_value"]
    msg.set_content("Hello")
    expected = row["expected_is_autoreply"].strip().lower() == "true"
    if _case_id(row) in POLICY_NOT_AUTO_REPLY:
        expected = False
    assert (classify_message(msg.as_bytes()).kind == "auto_reply") is expected


def test_autoreply_corpus_details() -> None:
    base = CORPORA / "autoreply" / "sisimai_rfc3834"
    four = classify_message((base / "rfc3834-04.eml").read_bytes())
    assert four.return_date is not None
    assert four.return_date.isoformat() == "2013-08-01"
    assert four.alternate_address == "neko@example.org"
    five = classify_message((base / "rfc3834-05.eml").read_bytes())
    assert five.alternate_address == "karl@hanz.de"
    one = classify_message((base / "rfc3834-01.eml").read_bytes())
    assert one.return_date is not None
    assert one.return_date.isoformat() == "2005-05-05"
    six = classify_message((base / "rfc3834-06.eml").read_bytes())
    assert six.mailbox_retired
    assert six.alternate_address is None


# --- bounces ------------------------------------------------------------------------------

BOUNCE_LABELS: dict[str, list[dict[str, str]]] = defaultdict(list)
for _row in _rows(CORPORA / "bounce" / "labels.csv"):
    BOUNCE_LABELS[_row["filename"]].append(_row)
BOUNCE_FILES = sorted(f for f, rows in BOUNCE_LABELS.items() if any(r["is_bounce"] for r in rows))


def _bounce_params() -> list[object]:
    params: list[object] = []
    for filename in BOUNCE_FILES:
        marks = []
        if filename in KNOWN_NOT_BOUNCE:
            marks.append(pytest.mark.xfail(reason=KNOWN_NOT_BOUNCE[filename], strict=True))
        elif filename in KNOWN_NOT_HARD:
            marks.append(pytest.mark.xfail(reason=KNOWN_NOT_HARD[filename], strict=True))
        params.append(pytest.param(filename, marks=marks, id=filename))
    return params


def _label_positions(rows: list[dict[str, str]], statuses: list[str | None]) -> list[int]:
    """The 0-based recipient of each label row; rows repeating an index with different
    statuses (lhost-qmail-25 gives #1 to both recipients) are resolved by their status."""
    positions = [int(r["recipient_index"] or i + 1) - 1 for i, r in enumerate(rows)]
    for i, row in enumerate(rows):
        clash = any(
            positions[j] == positions[i] and rows[j]["status"] != row["status"]
            for j in range(len(rows))
            if j != i
        )
        if clash and statuses.count(row["status"]) == 1:
            positions[i] = statuses.index(row["status"])
    return positions


@pytest.mark.parametrize("filename", _bounce_params())
def test_bounce_corpus(filename: str) -> None:
    rows = BOUNCE_LABELS[filename]
    result = classify_message((CORPORA / "bounce" / filename).read_bytes())
    if all(r["is_bounce"] == "false" for r in rows if r["is_bounce"]):
        assert result.kind != "bounce", result.signals
        return
    assert result.kind == "bounce", result.signals
    assert result.hard_bounce is not None or not result.bounces
    flufl = filename.startswith("flufl.bounce/")
    positions = _label_positions(rows, [b.status for b in result.bounces])
    for index, row in enumerate(rows):
        if row["is_bounce"] != "true":
            continue
        wanted = {a.strip().lower() for a in row["recipients"].split(";") if a.strip()}
        if wanted:
            assert set(result.failed_recipients) == wanted
        assert result.bounces, "a labelled bounce must name its failed recipient"
        rec = result.bounces[min(positions[index], len(result.bounces) - 1)]
        assert "@" in rec.address
        # flufl.bounce labels are its permanent/temporary lists; elsewhere hard = dead address.
        if row["hard_or_soft"] == "hard" and filename not in POLICY_NOT_HARD:
            assert rec.permanent if flufl else rec.hard, rec
        if row["hard_or_soft"] == "soft" or filename in POLICY_NOT_HARD:
            assert not rec.hard, rec


def test_hard_bounce_details() -> None:
    result = classify_message((CORPORA / "bounce" / "sisimai/rhost-aol-03.eml").read_bytes())
    assert list(result.failed_recipients) == ["sabineko@example.jp", "mikeneko@example.jp"]
    assert [b.hard for b in result.bounces] == [False, True]
    assert result.bounces[1].status == "5.1.1"
    assert result.hard_bounce is False  # not every recipient is dead
    assert result.bounces[0].status == "5.2.2"


def test_success_dsn_is_no_bounce() -> None:
    result = classify_message((CORPORA / "bounce" / "sisimai/rfc3464-28.eml").read_bytes())
    assert result.kind == "auto_reply"


# --- opt-outs and complaints --------------------------------------------------------------

OPTOUT_ROWS = list(
    {
        r["filename"]: r
        for r in _rows(CORPORA / "optout" / "labels.csv")
        if r["is_optout_or_complaint"].strip() == "true"
    }.values()
)


@pytest.mark.parametrize("row", OPTOUT_ROWS, ids=[r["filename"] for r in OPTOUT_ROWS])
def test_optout_corpus(row: dict[str, str]) -> None:
    result = classify_message((CORPORA / "optout" / row["filename"]).read_bytes())
    if row["kind"].startswith("unsubscribe"):
        assert result.kind == "opt_out"
    elif row["feedback_type"].strip() == "opt-out":
        assert result.kind in ("opt_out", "complaint")
    else:
        assert result.kind == "complaint"
        if row["feedback_type"].strip() in ("abuse", "auth-failure"):
            assert result.feedback_type == row["feedback_type"].strip()


# --- visible reply text -------------------------------------------------------------------

EXACT = {
    "trimmed_exact",
    "first_fragment_exact",
    "first_fragment_trimmed_exact",
    "parseReply_exact",
    "visible_text_exact",
    "visible_text_trimmed_exact",
    "visible_reply_exact",
    "extract_from_plain(text/plain part).strip()_exact",
}


def _visible_cases() -> list[object]:
    path = CORPORA / "reply_parsing" / "labels.jsonl"
    if not path.is_file():
        return []
    params: list[object] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        expects = [e for e in row["expect"] if e["kind"] in EXACT]
        if not expects:
            continue
        marks = []
        if row["file"] in KNOWN_VISIBLE:
            marks.append(pytest.mark.xfail(reason=KNOWN_VISIBLE[row["file"]], strict=True))
        params.append(pytest.param(row["file"], expects[0], marks=marks, id=row["file"]))
    return params


@pytest.mark.parametrize(("filename", "expect"), _visible_cases())
def test_visible_reply_text(filename: str, expect: dict[str, str]) -> None:
    base = CORPORA / "reply_parsing"
    wanted = expect.get("expected")
    if wanted is None:
        wanted = (base / expect["expected_file"]).read_text(encoding="utf-8")
    raw = (base / filename).read_bytes()
    if filename.endswith(".eml"):
        result = classify_message(raw)
        assert result.kind == "reply"
        got = result.visible_text or ""
    else:
        got = visible_reply_text(raw.decode("utf-8"))
    assert got.strip() == wanted.strip()
