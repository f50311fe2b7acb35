"""The Gmail API mailbox against a fake Gmail behind `httpx2.MockTransport`.

The fake answers as Gmail's REST reference documents it (users.messages.send/list/get with
format=raw, users.history.list, users.getProfile; error bodies with `error.code`, `status`
and `errors[].reason`)."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from crm.fake import FakeCrm
from flows.cycle import run_cycle
from flows.delivery import deliver_due
from flows.inbound import read_inbox
from flows.ports import Actor, Policy, Services
from flows.review import approve
from mail.base import (
    HeaderInjectionError,
    OutgoingMessage,
    PermanentMailError,
    SentReceipt,
    TransientMailError,
)
from mail.fake import WorkerDied
from mail.gmail import GmailMailbox
from prompts.drafter import TemplateDrafter
from storage.repos import Store
from tests.factories import proposal_pipeline
from triggers.drafts import DraftStatus, OutboxStatus
from triggers.model import Direction

BASE = "https://gmail.test/gmail/v1/users/me/"
TOKEN = "ya29.gmail-token"
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FOUNDER = "maya@northwind.example"
PROSPECT = "jordan@globex.example"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")  # Gmail omits the padding


def header(raw: bytes, name: str) -> str | None:
    value = email.message_from_bytes(raw, policy=email.policy.default)[name]
    return None if value is None else str(value)


def google_error(code: int, status: str, reason: str, message: str) -> httpx2.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": status,
        }
    }
    return httpx2.Response(code, json=body)


@dataclass
class Stored:
    id: str
    thread_id: str
    labels: list[str]
    raw: bytes
    history_id: int


@dataclass
class FakeGmail:
    messages: dict[str, Stored] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    history_id: int = 1000
    oldest_history: int = 0  # start ids below this answer 404, as after a week
    requests: list[httpx2.Request] = field(default_factory=list)
    faults: list[tuple[str, httpx2.Response]] = field(default_factory=list)  # (path part, reply)
    tokens: set[str] = field(default_factory=lambda: {TOKEN})

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def add(self, raw: bytes, labels: list[str], thread_id: str | None = None) -> Stored:
        self.history_id += 1
        gmail_id = f"18c{len(self.messages) + 1:05x}"
        stored = Stored(gmail_id, thread_id or gmail_id, labels, raw, self.history_id)
        self.messages[gmail_id] = stored
        self.history.append(
            {
                "id": str(self.history_id),
                "messages": [{"id": gmail_id, "threadId": stored.thread_id}],
                "messagesAdded": [
                    {"message": {"id": gmail_id, "threadId": stored.thread_id, "labelIds": labels}}
                ],
            }
        )
        return stored

    def relabel(self, gmail_id: str, add: list[str], remove: list[str]) -> None:
        """A label change (a filter, "Not spam", un-archiving), recorded as Gmail does: a
        labelAdded / labelRemoved history record carrying the message's labels after it."""
        stored = self.messages[gmail_id]
        stored.labels = [*(x for x in stored.labels if x not in remove), *add]
        self.history_id += 1
        message = {"id": gmail_id, "threadId": stored.thread_id, "labelIds": stored.labels}
        record: dict[str, Any] = {"id": str(self.history_id), "messages": [message]}
        if add:
            record["labelsAdded"] = [{"message": message, "labelIds": add}]
        if remove:
            record["labelsRemoved"] = [{"message": message, "labelIds": remove}]
        self.history.append(record)

    def search(self, query: str) -> list[Stored]:
        found = list(self.messages.values())
        wanted = re.search(r"rfc822msgid:(\S+)", query)
        if wanted:
            bare = wanted.group(1).strip("<>")
            found = [m for m in found if (header(m.raw, "Message-ID") or "") == f"<{bare}>"]
        if "in:sent" in query and "OR" not in query:
            found = [m for m in found if "SENT" in m.labels]
        if "(in:inbox OR in:sent)" in query:
            found = [m for m in found if {"INBOX", "SENT"} & set(m.labels)]
        return sorted(found, key=lambda m: -m.history_id)  # newest first, as Gmail lists

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/gmail/v1/users/me/")
        for index, (part, reply) in enumerate(self.faults):
            if part in f"{request.method} {path}":
                del self.faults[index]
                return reply
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return google_error(
                401,
                "UNAUTHENTICATED",
                "authError",
                "Request had invalid authentication credentials.",
            )
        params = request.url.params
        if request.method == "GET" and path == "profile":
            return httpx2.Response(
                200,
                json={
                    "emailAddress": FOUNDER,
                    "messagesTotal": len(self.messages),
                    "threadsTotal": len({m.thread_id for m in self.messages.values()}),
                    "historyId": str(self.history_id),
                },
            )
        if request.method == "POST" and path == "messages/send":
            body = json.loads(request.content)
            raw = base64.urlsafe_b64decode(body["raw"] + "=" * (-len(body["raw"]) % 4))
            stored = self.add(raw, ["SENT"], body.get("threadId"))
            return httpx2.Response(
                200, json={"id": stored.id, "threadId": stored.thread_id, "labelIds": ["SENT"]}
            )
        if request.method == "GET" and path == "messages":
            found = self.search(params.get("q", ""))
            limit = int(params.get("maxResults", 100))
            page: dict[str, Any] = {"resultSizeEstimate": len(found)}
            if found:
                page["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in found[:limit]]
            return httpx2.Response(200, json=page)
        if request.method == "GET" and path.startswith("messages/"):
            item = self.messages.get(path.removeprefix("messages/"))
            if item is None:
                return google_error(404, "NOT_FOUND", "notFound", "Requested entity was not found.")
            assert params.get("format") == "raw"
            return httpx2.Response(
                200,
                json={
                    "id": item.id,
                    "threadId": item.thread_id,
                    "labelIds": item.labels,
                    "snippet": "",
                    "sizeEstimate": len(item.raw),
                    "historyId": str(item.history_id),
                    "internalDate": "1763888400000",
                    "raw": b64url(item.raw),
                },
            )
        if request.method == "GET" and path == "history":
            start = int(params["startHistoryId"])
            if start < self.oldest_history:
                return google_error(404, "NOT_FOUND", "notFound", "Requested entity was not found.")
            types = params.get_list("historyTypes")
            wanted = {
                "messageAdded": "messagesAdded",
                "messageDeleted": "messagesDeleted",
                "labelAdded": "labelsAdded",
                "labelRemoved": "labelsRemoved",
            }
            kinds = {wanted[t] for t in types} if types else set(wanted.values())
            records = [h for h in self.history if int(h["id"]) > start and kinds & set(h.keys())]
            page = {"historyId": str(self.history_id)}
            if records:
                page["history"] = records
            return httpx2.Response(200, json=page)
        return google_error(400, "INVALID_ARGUMENT", "invalidArgument", f"unexpected {path}")


@pytest.fixture
def gmail() -> FakeGmail:
    return FakeGmail()


def mailbox(fake: FakeGmail, **kwargs: Any) -> GmailMailbox:
    kwargs.setdefault("token", TOKEN)
    return GmailMailbox(
        base_url=BASE,
        transport=fake.transport(),
        sleep=lambda s: None,
        clock=lambda: MONDAY,
        **kwargs,
    )


def outgoing(**overrides: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "message_id": "<followup.7.v1@northwind.example>",
        "from_address": FOUNDER,
        "from_name": "Maya Chen",
        "to_address": PROSPECT,
        "to_name": "Jordan Lee",
        "subject": "Re: Proposal: website rebuild",
        "body": "Hi Jordan,\n\nAny questions?\n\nMaya\n",
        "in_reply_to": "<proposal-mail-1@northwind.example>",
        "references": ("<proposal-mail-1@northwind.example>",),
    }
    return OutgoingMessage(**(values | overrides))


def raw_mail(message_id: str, sender: str = PROSPECT, to: str = FOUNDER, **headers: str) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: Re: Proposal: website rebuild\r\n"
        f"Date: Mon, 23 Nov 2026 08:00:00 +0000\r\nMessage-ID: {message_id}\r\n{extra}\r\n"
        "Sounds good, call me.\r\n"
    ).encode()


# --- sending ------------------------------------------------------------------------------------


def test_send_joins_the_gmail_thread_of_the_message_it_answers(gmail: FakeGmail) -> None:
    original = gmail.add(
        raw_mail("<proposal-mail-1@northwind.example>", FOUNDER, PROSPECT), ["SENT"]
    )
    receipt = mailbox(gmail).send(outgoing())
    sent = gmail.messages[receipt.provider_id]
    assert sent.thread_id == original.thread_id
    assert header(sent.raw, "In-Reply-To") == "<proposal-mail-1@northwind.example>"
    assert header(sent.raw, "Message-ID") == "<followup.7.v1@northwind.example>"
    assert header(sent.raw, "Subject") == "Re: Proposal: website rebuild"
    searches = [r.url.params.get("q") for r in gmail.requests if r.url.path.endswith("/messages")]
    assert "rfc822msgid:proposal-mail-1@northwind.example" in searches


def test_a_given_thread_id_is_used_and_a_new_conversation_has_none(gmail: FakeGmail) -> None:
    box = mailbox(gmail)
    receipt = box.send(outgoing(thread_id="thread-42"))
    assert gmail.messages[receipt.provider_id].thread_id == "thread-42"
    fresh = box.send(outgoing(message_id="<followup.8.v1@northwind.example>", in_reply_to=None))
    assert gmail.messages[fresh.provider_id].thread_id == fresh.provider_id
    body = json.loads(gmail.requests[-1].content)
    assert "threadId" not in body


def test_a_second_send_finds_the_first_in_sent_mail(gmail: FakeGmail) -> None:
    box = mailbox(gmail)
    first = box.send(outgoing())
    assert box.send(outgoing()) == first
    assert sum(1 for m in gmail.messages.values() if "SENT" in m.labels) == 1
    assert box.find_sent("<followup.7.v1@northwind.example>") == first
    assert box.find_sent("<followup.9.v1@northwind.example>") is None


def test_line_breaks_are_refused_before_any_request(gmail: FakeGmail) -> None:
    with pytest.raises(HeaderInjectionError):
        mailbox(gmail).send(outgoing(subject="Hi\r\nBcc: someone@example.org"))
    assert gmail.requests == []


def test_a_rate_limited_send_waits_as_told_and_goes_through(gmail: FakeGmail) -> None:
    waits: list[float] = []
    gmail.faults.append(
        ("POST messages/send", httpx2.Response(429, headers={"Retry-After": "2"}, json={}))
    )
    box = GmailMailbox(TOKEN, base_url=BASE, transport=gmail.transport(), sleep=waits.append)
    box.send(outgoing(in_reply_to=None))
    assert waits == [2.0]
    assert len(gmail.messages) == 1


def test_a_send_whose_outcome_is_unknown_is_not_repeated_on_the_spot(gmail: FakeGmail) -> None:
    gmail.faults.append(
        ("POST messages/send", google_error(503, "UNAVAILABLE", "backendError", "x"))
    )
    with pytest.raises(TransientMailError, match="503"):
        mailbox(gmail).send(outgoing(in_reply_to=None))
    assert sum(1 for r in gmail.requests if r.method == "POST") == 1


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            google_error(400, "INVALID_ARGUMENT", "invalidArgument", "Invalid To header"),
            PermanentMailError,
        ),
        (
            google_error(403, "PERMISSION_DENIED", "insufficientPermissions", "scope"),
            PermanentMailError,
        ),
        (google_error(500, "INTERNAL", "backendError", "Backend Error"), TransientMailError),
    ],
)
def test_send_errors_map_to_permanent_or_transient(
    gmail: FakeGmail, reply: httpx2.Response, error: type[Exception]
) -> None:
    gmail.faults.append(("POST messages/send", reply))
    with pytest.raises(error):
        mailbox(gmail).send(outgoing(in_reply_to=None))


def test_refused_tokens_are_permanent_unless_a_fresh_one_can_be_had(gmail: FakeGmail) -> None:
    with pytest.raises(PermanentMailError, match="credentials"):
        mailbox(gmail, token="expired").find_sent("<x@y>")
    tokens = iter(["expired", "ya29.fresh"])
    gmail.tokens.add("ya29.fresh")
    assert mailbox(gmail, token=lambda: next(tokens)).find_sent("<x@y>") is None


def test_reads_are_retried_on_rate_limits_and_outages_become_transient(gmail: FakeGmail) -> None:
    gmail.faults.append(
        ("GET messages", google_error(403, "PERMISSION_DENIED", "userRateLimitExceeded", "slow"))
    )
    assert mailbox(gmail).find_sent("<x@y>") is None

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    down = GmailMailbox(
        TOKEN, base_url=BASE, transport=httpx2.MockTransport(refuse), sleep=lambda s: None
    )
    with pytest.raises(TransientMailError, match="ConnectError"):
        down.fetch_since(None)


# --- reading ------------------------------------------------------------------------------------


def test_the_first_read_looks_back_then_history_brings_only_what_is_new(gmail: FakeGmail) -> None:
    gmail.add(raw_mail("<r1@globex.example>"), ["INBOX", "UNREAD", "CATEGORY_PERSONAL"])
    gmail.add(raw_mail("<hand-1@northwind.example>", FOUNDER, PROSPECT), ["SENT"])
    gmail.add(raw_mail("<spam@x.example>"), ["SPAM"])
    box = mailbox(gmail)
    first = box.fetch_since(None)
    assert [(m.folder, header(m.raw, "Message-ID")) for m in first.messages] == [
        ("inbox", "<r1@globex.example>"),
        ("sent", "<hand-1@northwind.example>"),
    ]
    assert json.loads(first.cursor or "") == {"history_id": str(gmail.history_id)}
    assert box.fetch_since(first.cursor).messages == ()
    gmail.add(raw_mail("<r2@globex.example>"), ["INBOX", "UNREAD"])
    gmail.add(raw_mail("<draft@northwind.example>", FOUNDER, PROSPECT), ["DRAFT"])
    later = box.fetch_since(first.cursor)
    assert [header(m.raw, "Message-ID") for m in later.messages] == ["<r2@globex.example>"]
    assert later.cursor != first.cursor


def test_a_reply_that_reaches_the_inbox_late_is_read_when_it_does(gmail: FakeGmail) -> None:
    """Issue 11 item 6: a reply filed as spam (or archived by a filter) and moved to the inbox
    later arrives there by a label change, not as a new message: it must still be read."""
    box = mailbox(gmail)
    first = box.fetch_since(None)
    spam = gmail.add(raw_mail("<late@globex.example>"), ["SPAM"])
    assert box.fetch_since(first.cursor).messages == ()
    gmail.relabel(spam.id, add=["INBOX"], remove=["SPAM"])  # "Not spam"
    later = box.fetch_since(first.cursor)
    assert [header(m.raw, "Message-ID") for m in later.messages] == ["<late@globex.example>"]


def test_history_gmail_no_longer_keeps_falls_back_to_recent_mail(gmail: FakeGmail) -> None:
    gmail.add(raw_mail("<r1@globex.example>"), ["INBOX"])
    gmail.oldest_history = 5000
    batch = mailbox(gmail).fetch_since(json.dumps({"history_id": "10"}))
    assert [header(m.raw, "Message-ID") for m in batch.messages] == ["<r1@globex.example>"]


# --- through the flows --------------------------------------------------------------------------


class Silent:
    def publish(self, draft: object, view: object) -> None:
        return None

    def update(self, draft: object, view: object, outcome: str) -> None:
        return None


class DyingGmail(GmailMailbox):
    def send(self, message: OutgoingMessage) -> SentReceipt:
        super().send(message)
        raise WorkerDied


def test_crash_after_send_is_resolved_and_a_reply_stops_the_next_one(
    sqlite_store: Store, gmail: FakeGmail
) -> None:
    services = Services(
        store=sqlite_store,
        crm=FakeCrm(proposal_pipeline()),
        mailbox=DyingGmail(TOKEN, base_url=BASE, transport=gmail.transport(), clock=lambda: MONDAY),
        drafter=TemplateDrafter(),
        review=Silent(),
        policy=Policy(message_id_domain="northwind.example"),
    )
    [draft] = run_cycle(services, MONDAY).drafted
    approve(services, draft.id, Actor.operator(), MONDAY)
    with pytest.raises(WorkerDied):
        deliver_due(services, MONDAY)
    services.mailbox = mailbox(gmail)
    report = deliver_due(services, MONDAY + timedelta(minutes=10))
    assert report.recovered == [draft.id]
    assert [r.status for r in sqlite_store.outbox.find()] == [OutboxStatus.SENT]
    assert sum(1 for m in gmail.messages.values() if "SENT" in m.labels) == 1
    assert sqlite_store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]
    # The prospect answers in Gmail; the inbox read records it as their reply.
    read_inbox(services, MONDAY + timedelta(minutes=20))
    gmail.add(
        raw_mail("<r9@globex.example>", In_Reply_To=sqlite_store.outbox.find()[0].message_id),
        ["INBOX", "UNREAD"],
    )
    assert read_inbox(services, MONDAY + timedelta(hours=1)) == 1
    replies = [a for a in sqlite_store.pipeline.load().activities if a.direction is Direction.IN]
    assert [r.message_id for r in replies] == ["<r9@globex.example>"]


# --- tokens and wiring --------------------------------------------------------------------------


def test_a_refresh_token_yields_fresh_access_tokens_as_google_documents() -> None:
    from mail.oauth import RefreshingToken

    now = [0.0]
    posted: list[dict[str, str]] = []

    def token_endpoint(request: httpx2.Request) -> httpx2.Response:
        from urllib.parse import parse_qsl

        form = dict(parse_qsl(request.content.decode()))
        posted.append(form)
        if form["refresh_token"] != "1//refresh":
            return httpx2.Response(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        return httpx2.Response(
            200,
            json={
                "access_token": f"ya29.{len(posted)}",
                "expires_in": 3599,
                "scope": "https://mail.google.com/",
                "token_type": "Bearer",
            },
        )

    token = RefreshingToken(
        token_url="https://oauth2.test/token",
        client_id="client.apps.googleusercontent.com",
        client_secret="secret",
        refresh_token="1//refresh",
        transport=httpx2.MockTransport(token_endpoint),
        clock=lambda: now[0],
    )
    assert token() == "ya29.1"
    now[0] = 3000.0
    assert token() == "ya29.1"  # still valid
    now[0] = 3560.0
    assert token() == "ya29.2"  # within a minute of expiry: refreshed
    assert posted[0]["grant_type"] == "refresh_token"
    assert posted[0]["client_id"] == "client.apps.googleusercontent.com"
    revoked = RefreshingToken(
        token_url="https://oauth2.test/token",
        client_id="c",
        client_secret=None,
        refresh_token="revoked",
        transport=httpx2.MockTransport(token_endpoint),
    )
    with pytest.raises(PermanentMailError, match="expired or revoked"):
        revoked()


def test_build_mailbox_wires_gmail_from_settings() -> None:
    from app import SetupError, build_mailbox
    from mail.oauth import RefreshingToken
    from settings import MailProvider, Settings

    settings = Settings(_env_file=None, mail_provider=MailProvider.GMAIL)  # type: ignore[call-arg]
    with pytest.raises(SetupError, match="MAIL_OAUTH_TOKEN"):
        build_mailbox(settings)
    box = build_mailbox(
        settings.model_copy(update={"mail_oauth_token": SecretStr(TOKEN), "gmail_api_url": BASE})
    )
    assert isinstance(box, GmailMailbox)
    assert box.http.token == TOKEN
    assert str(box.http.base_url) == BASE
    refreshing = build_mailbox(
        settings.model_copy(
            update={"mail_oauth_refresh_token": SecretStr("1//r"), "mail_oauth_client_id": "c"}
        )
    )
    assert isinstance(refreshing, GmailMailbox)
    assert isinstance(refreshing.http.token, RefreshingToken)
    assert refreshing.http.token.token_url == "https://oauth2.googleapis.com/token"
