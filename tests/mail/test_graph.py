"""The Microsoft Graph mailbox against a fake Graph behind `httpx2.MockTransport`.

The fake answers as Graph's v1.0 reference documents it: `sendMail` with a base64 MIME body
(`text/plain`) -> 202 and no body; message lists as `{"@odata.context", "value": [...]}`;
`messages/delta` pages with `@odata.nextLink` and a final `@odata.deltaLink`, removals as
`@removed`; `/$value` as MIME; errors as `{"error": {"code", "message"}}`; 410 for an expired
delta token; 429 with Retry-After."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from flows.delivery import deliver_due
from mail.base import (
    HeaderInjectionError,
    OutgoingMessage,
    PermanentMailError,
    SentReceipt,
    TransientMailError,
)
from mail.fake import WorkerDied
from mail.graph import GraphMailbox
from storage.repos import Store
from tests.mail.test_gmail import Silent
from triggers.drafts import DraftStatus

BASE = "https://graph.test/v1.0/me/"
TOKEN = "eyJ0eXAi.graph-token"
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FOUNDER = "maya@northwind.example"
PROSPECT = "jordan@globex.example"


def header(raw: bytes, name: str) -> str | None:
    value = email.message_from_bytes(raw, policy=email.policy.default)[name]
    return None if value is None else str(value)


def graph_error(status: int, code: str, message: str, **headers: str) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers=headers,
        json={"error": {"code": code, "message": message, "innerError": {"request-id": "r1"}}},
    )


@dataclass
class Item:
    id: str
    folder: str
    mime: bytes
    received: datetime
    draft: bool = False


@dataclass
class FakeGraph:
    items: list[Item] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (folder, id), in order
    requests: list[httpx2.Request] = field(default_factory=list)
    faults: list[tuple[str, httpx2.Response]] = field(default_factory=list)
    expired_tokens: set[str] = field(default_factory=set)
    origin: str = "https://graph.test"

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def add(self, mime: bytes, folder: str = "inbox", *, draft: bool = False) -> Item:
        item = Item(f"AAMkAD{len(self.items):04d}=", folder, mime, MONDAY, draft)
        self.items.append(item)
        return item

    def _summary(self, item: Item) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": f'W/"{item.id}"',
            "id": item.id,
            "internetMessageId": header(item.mime, "Message-ID"),
            "receivedDateTime": item.received.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "isDraft": item.draft,
        }

    def _delta_page(self, folder: str, start: int, size: int) -> httpx2.Response:
        log = [i for i in self.items if i.folder == folder]
        page = log[start : start + size]
        body: dict[str, Any] = {
            "@odata.context": f"{self.origin}/v1.0/$metadata#Collection(message)",
            "value": [self._summary(i) for i in page],
        }
        if start + size < len(log):
            link = f"mailFolders/{folder}/messages/delta?$skiptoken={folder}.{start + size}"
            body["@odata.nextLink"] = f"{self.origin}/v1.0/me/{link}"
        else:
            gone = [
                {"id": i, "@removed": {"reason": "deleted"}} for f, i in self.removed if f == folder
            ]
            body["value"] += gone
            link = f"mailFolders/{folder}/messages/delta?$deltatoken={folder}.{len(log)}"
            body["@odata.deltaLink"] = f"{self.origin}/v1.0/me/{link}"
        return httpx2.Response(200, json=body)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1.0/me/")
        for index, (part, reply) in enumerate(self.faults):
            if part in f"{request.method} {path}":
                del self.faults[index]
                return reply
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return graph_error(401, "InvalidAuthenticationToken", "Access token has expired.")
        params = request.url.params
        if request.method == "POST" and path == "sendMail":
            if request.headers.get("Content-Type") != "text/plain":
                return graph_error(400, "ErrorInvalidRequest", "Unsupported content type.")
            self.add(base64.b64decode(request.content), "sentitems")
            return httpx2.Response(202)
        if request.method == "GET" and path == "mailFolders/sentitems/messages":
            wanted = (
                params["$filter"].removeprefix("internetMessageId eq '")[:-1].replace("''", "'")
            )
            found = [
                {"@odata.etag": 'W/"x"', "id": i.id, "internetMessageId": wanted}
                for i in self.items
                if i.folder == "sentitems" and header(i.mime, "Message-ID") == wanted
            ]
            return httpx2.Response(200, json={"@odata.context": "x", "value": found})
        if request.method == "GET" and path.endswith("/messages/delta"):
            folder = path.split("/")[1]
            size = int(request.headers.get("Prefer", "odata.maxpagesize=10").split("=")[1])
            if "$skiptoken" in params:
                return self._delta_page(folder, int(params["$skiptoken"].split(".")[1]), size)
            if "$deltatoken" in params:
                token = params["$deltatoken"]
                if token in self.expired_tokens:
                    return graph_error(410, "SyncStateNotFound", "The sync state is not found.")
                return self._delta_page(folder, int(token.split(".")[1]), size)
            assert params["$filter"].startswith("receivedDateTime ge ")
            return self._delta_page(folder, 0, size)
        if request.method == "GET" and path.startswith("messages/") and path.endswith("/$value"):
            graph_id = path.split("/")[1]
            item = next((i for i in self.items if i.id == graph_id), None)
            if item is None:
                return graph_error(404, "ErrorItemNotFound", "The specified object was not found.")
            return httpx2.Response(200, content=item.mime, headers={"Content-Type": "text/plain"})
        return graph_error(400, "BadRequest", f"Unsupported request {path}")


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


def mailbox(fake: FakeGraph, **kwargs: Any) -> GraphMailbox:
    kwargs.setdefault("sleep", lambda s: None)
    return GraphMailbox(
        TOKEN, base_url=BASE, transport=fake.transport(), clock=lambda: MONDAY, **kwargs
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


def raw_mail(message_id: str, sender: str = PROSPECT, to: str = FOUNDER) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: Re: Proposal\r\n"
        f"Date: Mon, 23 Nov 2026 08:00:00 +0000\r\nMessage-ID: {message_id}\r\n\r\nYes.\r\n"
    ).encode()


# --- sending ------------------------------------------------------------------------------------


def test_send_posts_mime_that_keeps_our_message_id_and_thread_headers(graph: FakeGraph) -> None:
    receipt = mailbox(graph).send(outgoing())
    assert receipt == SentReceipt("<followup.7.v1@northwind.example>")
    [post] = [r for r in graph.requests if r.method == "POST"]
    assert post.url.path == "/v1.0/me/sendMail"
    mime = base64.b64decode(post.content)
    assert header(mime, "Message-ID") == "<followup.7.v1@northwind.example>"
    assert header(mime, "In-Reply-To") == "<proposal-mail-1@northwind.example>"
    assert header(mime, "References") == "<proposal-mail-1@northwind.example>"
    assert header(mime, "To") == f"Jordan Lee <{PROSPECT}>"


def test_a_second_send_finds_the_first_in_sent_items(graph: FakeGraph) -> None:
    box = mailbox(graph)
    box.send(outgoing())
    found = box.find_sent("<followup.7.v1@northwind.example>")
    assert found is not None
    assert box.send(outgoing()) == found
    assert sum(1 for r in graph.requests if r.method == "POST") == 1
    assert box.find_sent("<o'brien.1@northwind.example>") is None  # quoted, not broken


def test_line_breaks_are_refused_before_any_request(graph: FakeGraph) -> None:
    with pytest.raises(HeaderInjectionError):
        mailbox(graph).send(outgoing(to_name="Jordan\nBcc: x@example.org"))
    assert graph.requests == []


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (graph_error(503, "ServiceUnavailable", "Try later"), TransientMailError),
        (
            graph_error(429, "ApplicationThrottled", "Too many", **{"Retry-After": "120"}),
            TransientMailError,
        ),
        (graph_error(400, "ErrorInvalidRecipients", "Invalid recipients"), PermanentMailError),
        (graph_error(403, "ErrorAccessDenied", "Access is denied"), PermanentMailError),
    ],
)
def test_send_errors_map_to_transient_or_permanent_and_are_not_repeated_blindly(
    graph: FakeGraph, reply: httpx2.Response, error: type[Exception]
) -> None:
    graph.faults.append(("POST sendMail", reply))
    with pytest.raises(error):
        mailbox(graph).send(outgoing())
    assert sum(1 for r in graph.requests if r.method == "POST") == 1


def test_throttled_reads_wait_as_told(graph: FakeGraph) -> None:
    waits: list[float] = []
    graph.faults.append(
        ("GET mailFolders/sentitems", graph_error(429, "TooMany", "x", **{"Retry-After": "3"}))
    )
    assert mailbox(graph, sleep=waits.append).find_sent("<x@y>") is None
    assert waits == [3.0]


def test_an_expired_token_is_permanent(graph: FakeGraph) -> None:
    box = GraphMailbox("old", base_url=BASE, transport=graph.transport())
    with pytest.raises(PermanentMailError, match="InvalidAuthenticationToken"):
        box.fetch_since(None)


# --- reading ------------------------------------------------------------------------------------


def test_delta_reads_inbox_and_sent_items_then_only_what_is_new(graph: FakeGraph) -> None:
    graph.add(raw_mail("<r1@globex.example>"))
    graph.add(raw_mail("<hand-1@northwind.example>", FOUNDER, PROSPECT), "sentitems")
    graph.add(raw_mail("<draft@northwind.example>", FOUNDER, PROSPECT), "sentitems", draft=True)
    box = mailbox(graph)
    first = box.fetch_since(None)
    assert [(m.folder, header(m.raw, "Message-ID")) for m in first.messages] == [
        ("inbox", "<r1@globex.example>"),
        ("sent", "<hand-1@northwind.example>"),
    ]
    links = json.loads(first.cursor or "")
    assert "$deltatoken=inbox.1" in links["inbox"]
    assert box.fetch_since(first.cursor).messages == ()
    graph.add(raw_mail("<r2@globex.example>"))
    graph.removed.append(("inbox", "AAMkAD0000="))
    later = box.fetch_since(first.cursor)
    assert [header(m.raw, "Message-ID") for m in later.messages] == ["<r2@globex.example>"]


def test_a_backlog_is_read_in_batches_by_next_link(graph: FakeGraph) -> None:
    for n in range(5):
        graph.add(raw_mail(f"<r{n}@globex.example>"))
    box = mailbox(graph, batch_size=2)
    seen: list[str | None] = []
    cursor = None
    for _ in range(4):
        batch = box.fetch_since(cursor)
        seen += [header(m.raw, "Message-ID") for m in batch.messages]
        cursor = batch.cursor
    assert seen == [f"<r{n}@globex.example>" for n in range(5)]


def test_an_expired_delta_token_starts_over(graph: FakeGraph) -> None:
    graph.add(raw_mail("<r1@globex.example>"))
    box = mailbox(graph)
    first = box.fetch_since(None)
    graph.expired_tokens.add("inbox.1")
    again = box.fetch_since(first.cursor)
    assert [header(m.raw, "Message-ID") for m in again.messages] == ["<r1@globex.example>"]


def test_links_to_another_host_are_not_followed_with_the_token(graph: FakeGraph) -> None:
    cursor = json.dumps({"inbox": "https://evil.example/v1.0/me/mailFolders/inbox/messages/delta"})
    with pytest.raises(PermanentMailError, match="another host"):
        mailbox(graph).fetch_since(cursor)
    assert graph.requests == []


# --- through the outbox worker ------------------------------------------------------------------


class DyingGraph(GraphMailbox):
    def send(self, message: OutgoingMessage) -> SentReceipt:
        super().send(message)
        raise WorkerDied


def test_a_crash_after_sendmail_is_resolved_from_sent_items(
    sqlite_store: Store, graph: FakeGraph
) -> None:
    from crm.fake import FakeCrm
    from flows.cycle import run_cycle
    from flows.ports import Actor, Policy, Services
    from flows.review import approve
    from prompts.drafter import TemplateDrafter
    from tests.factories import proposal_pipeline

    services = Services(
        store=sqlite_store,
        crm=FakeCrm(proposal_pipeline()),
        mailbox=DyingGraph(TOKEN, base_url=BASE, transport=graph.transport(), clock=lambda: MONDAY),
        drafter=TemplateDrafter(),
        review=Silent(),
        policy=Policy(message_id_domain="northwind.example"),
    )
    [draft] = run_cycle(services, MONDAY, inbound=False).drafted
    approve(services, draft.id, Actor.operator(), MONDAY)
    with pytest.raises(WorkerDied):
        deliver_due(services, MONDAY)
    services.mailbox = mailbox(graph)
    assert deliver_due(services, MONDAY + timedelta(minutes=10)).recovered == [draft.id]
    assert sum(1 for r in graph.requests if r.method == "POST") == 1
    assert sqlite_store.drafts.get(draft.id).status is DraftStatus.SENT  # type: ignore[union-attr]


def test_microsoft_rotates_refresh_tokens_and_graph_is_wired_from_settings() -> None:
    from urllib.parse import parse_qsl

    from pydantic import SecretStr

    from app import build_mailbox
    from mail.oauth import RefreshingToken
    from settings import MailProvider, Settings

    seen: list[str] = []

    def token_endpoint(request: httpx2.Request) -> httpx2.Response:
        form = dict(parse_qsl(request.content.decode()))
        seen.append(form["refresh_token"])
        return httpx2.Response(
            200,
            json={
                "token_type": "Bearer",
                "scope": "Mail.Read Mail.Send",
                "expires_in": 1,
                "access_token": f"eyJ.{len(seen)}",
                "refresh_token": f"M.R{len(seen) + 1}",
            },
        )

    token = RefreshingToken(
        token_url="https://login.test/token",
        client_id="app-id",
        client_secret=None,
        refresh_token="M.R1",
        scope="offline_access Mail.Read Mail.Send",
        transport=httpx2.MockTransport(token_endpoint),
    )
    assert token() == "eyJ.1"
    assert token() == "eyJ.2"  # expires_in 1 s: inside the margin, so refreshed
    assert seen == ["M.R1", "M.R2"]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mail_provider=MailProvider.GRAPH,
        mail_oauth_refresh_token=SecretStr("M.R1"),
        mail_oauth_client_id="app-id",
        graph_api_url=BASE,
    )
    box = build_mailbox(settings)
    assert isinstance(box, GraphMailbox)
    assert isinstance(box.http.token, RefreshingToken)
    assert "login.microsoftonline.com" in box.http.token.token_url


def test_a_message_without_sender_takes_the_mailboxs_address_or_is_refused(
    graph: FakeGraph,
) -> None:
    with pytest.raises(PermanentMailError, match="no sender address"):
        mailbox(graph).send(outgoing(from_address=""))
    with pytest.raises(PermanentMailError, match="cannot write"):
        mailbox(graph).send(outgoing(to_address="jordan@"))
    assert graph.requests == []
    mailbox(graph, address=FOUNDER).send(outgoing(from_address=""))
    [post] = [r for r in graph.requests if r.method == "POST"]
    assert header(base64.b64decode(post.content), "From") == f"Maya Chen <{FOUNDER}>"


class TimingOutGraph(FakeGraph):
    """Takes the message, then the answer never comes (a read timeout)."""

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        response = super().handle(request)
        if request.method == "POST" and request.url.path.endswith("/sendMail"):
            raise httpx2.ReadTimeout("timed out waiting for the answer", request=request)
        return response


def test_a_send_that_times_out_after_the_request_is_unknown_not_retried() -> None:
    from mail.base import UnknownDeliveryError

    graph = TimingOutGraph()
    box = mailbox(graph)
    with pytest.raises(UnknownDeliveryError):
        box.send(outgoing())
    sends = [r for r in graph.requests if r.method == "POST"]
    assert len(sends) == 1  # not retried blindly by the HTTP layer
    assert box.find_sent(outgoing().message_id) is not None  # the lookup settles it
