"""Reading a Pipedrive account into the pipeline: v2 deals, persons and activities by
`updated_since` (each stream its own watermark on `update_time`), v1 notes by `updated_since`,
v1 mail messages for the open deals whose mail times moved, and users, stages and fields in
full (they are small). Mail reads cost 20 tokens a deal: when the daily budget runs low they
wait in the cursor for the next sync."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm.mapping import CrmMapping
from crm.pipedrive.api import COST, PipedriveApi
from crm.source import SyncRun, chunks, parse_time
from triggers.model import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    DealStatus,
    Direction,
    Owner,
    Pipeline,
)

_TAGS = re.compile(r"<[^>]+>")


def plain(text: str | None) -> str | None:
    """A note's HTML as text."""
    if not text:
        return None
    text = re.sub(r"<\s*(br|/p|/div)\s*/?>", "\n", text, flags=re.IGNORECASE)
    return html.unescape(_TAGS.sub("", text)).strip() or None


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    name: str
    pipeline: str


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def _id(value: Any) -> str | None:
    if isinstance(value, dict):  # v1 shapes nest the object
        value = value.get("value", value.get("id"))
    return None if value in (None, "", 0) else str(value)


class PipedriveReader:
    def __init__(
        self, api: PipedriveApi, mapping: CrmMapping, *, vendor: str = "pipedrive"
    ) -> None:
        self.api = api
        self.mapping = mapping
        self.vendor = vendor

    def read(self, run: SyncRun) -> Pipeline:
        owners = [self.mapping.owner(o) for o in self._users(run)]
        stages = self.stages()
        deal_fields = self._fields("dealFields")
        person_fields = self._fields("personFields")
        contacts = list(self._persons(run, person_fields))
        owner_ids = {o.id for o in owners}
        deals: list[Deal] = []
        activities: list[Activity] = []
        mail_due: list[str] = list(
            dict.fromkeys(
                str(i) for i in (run.previous.extra.get("mail", []) if run.previous else [])
            )
        )
        since = run.since("deals")
        passed: list[Deal] = []  # deals whose stage moved since the last sync
        params = {
            "status": "open,won,lost,deleted",
            "include_fields": "last_incoming_mail_time,last_outgoing_mail_time",
        }
        for page in self.api.v2_since("deals", since, params):
            for record in page:
                deal_id = str(record.get("id"))
                if not run.news("deals", deal_id, _time(record.get("update_time"))):
                    continue
                if record.get("is_deleted") or record.get("status") == "deleted":
                    run.deleted_deals.add(deal_id)
                    continue
                deal = self._deal(run, record, stages, owner_ids, deal_fields)
                if deal is None:
                    continue
                deals.append(deal)
                activities += self._stage_activity(deal, stages)
                moved_stage = _time(record.get("stage_change_time"))
                if since is not None and moved_stage is not None and moved_stage >= since:
                    passed.append(deal)
                mail_times = [
                    _time(record.get(k))
                    for k in ("last_incoming_mail_time", "last_outgoing_mail_time")
                ]
                moved = any(t is not None and (since is None or t >= since) for t in mail_times)
                if moved and deal.status is DealStatus.OPEN and deal_id not in mail_due:
                    mail_due.append(deal_id)
        activities += self._passed_stages(run, passed, stages, since)
        activities += self._activities(run)
        activities += self._notes(run)
        activities += self._mail(run, mail_due)
        return Pipeline(tuple(owners), tuple(contacts), tuple(deals), tuple(activities))

    # ------------------------------------------------------------------ small objects
    def _users(self, run: SyncRun) -> Iterator[Owner]:
        for record in self.api.v1_get("users") or []:
            user_id, email = _id(record.get("id")), record.get("email")
            if user_id is None or not email:
                run.problem("users", user_id, "email", "a user without an email")
                continue
            yield Owner(
                user_id,
                str(record.get("name") or email),
                str(email),
                timezone=record.get("timezone_name") or None,
                extra={"active": record.get("active_flag", True)},
            )

    def stages(self) -> dict[str, Stage]:
        stages: dict[str, Stage] = {}
        for page in self.api.v2_list("stages"):
            for record in page:
                stages[str(record["id"])] = Stage(
                    str(record["id"]), str(record.get("name")), str(record.get("pipeline_id"))
                )
        return stages

    def _fields(self, resource: str) -> dict[str, dict[str, Any]]:
        """Fields by key and by name, with their options ({id, label})."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.api.v1_list(resource):
            for record in page:
                found[str(record.get("key"))] = record
                found.setdefault(str(record.get("name")), record)
        return found

    def _label_names(self, fields: dict[str, dict[str, Any]], ids: Any) -> list[str]:
        field = fields.get("label_ids") or fields.get("label") or {}
        options = {str(o.get("id")): str(o.get("label")) for o in field.get("options") or []}
        return [options[str(i)] for i in ids or [] if str(i) in options]

    # ------------------------------------------------------------------ persons
    def _persons(self, run: SyncRun, fields: dict[str, dict[str, Any]]) -> Iterator[Contact]:
        records: list[dict[str, Any]] = []
        params = {"include_fields": "marketing_status"}
        for page in self.api.v2_since("persons", run.since("persons"), params):
            records += [
                r
                for r in page
                if run.news("persons", str(r.get("id")), _time(r.get("update_time")))
            ]
        org_names = self._org_names({str(r["org_id"]) for r in records if r.get("org_id")})
        dnc_field = self.mapping.do_not_contact_property
        dnc_label = self.mapping.do_not_contact_label.casefold()
        for record in records:
            person_id = str(record.get("id"))
            emails = [
                e for e in record.get("emails") or [] if isinstance(e, dict) and e.get("value")
            ]
            primary = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
            name = (record.get("name") or "").strip()
            if not name and primary is None:
                run.problem("persons", person_id, "emails", "a person with neither name nor email")
                continue
            email = str(primary["value"]).strip() if primary else None
            labels = [n.casefold() for n in self._label_names(fields, record.get("label_ids"))]
            custom = record.get("custom_fields") or {}
            status = ContactStatus.ACTIVE
            if (
                dnc_label in labels
                or (dnc_field and custom.get(dnc_field) not in (None, "", False, 0))
                or record.get("marketing_status") == "unsubscribed"
            ):
                status = ContactStatus.DO_NOT_CONTACT
            elif "bounced" in labels:
                status = ContactStatus.BOUNCED
            elif "deceased" in labels:
                status = ContactStatus.DECEASED
            yield Contact(
                id=person_id,
                name=name or str(email),
                email=email,
                company=org_names.get(str(record.get("org_id"))),
                status=status,
                alt_emails=tuple(str(e["value"]) for e in emails if e is not primary),
                extra={"label_ids": record.get("label_ids") or []},
            )

    def _org_names(self, ids: set[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for batch in chunks(sorted(ids), 100):
            for page in self.api.v2_list("organizations", {"ids": ",".join(batch)}):
                for record in page:
                    names[str(record.get("id"))] = str(record.get("name"))
        return names

    # ------------------------------------------------------------------ deals
    def _deal(
        self,
        run: SyncRun,
        record: dict[str, Any],
        stages: dict[str, Stage],
        owner_ids: set[str],
        fields: dict[str, dict[str, Any]],
    ) -> Deal | None:
        deal_id = str(record.get("id"))

        def bad(field: str, problem: str) -> None:
            run.problem("deals", deal_id, field, problem)

        title = (record.get("title") or "").strip()
        if not title:
            bad("title", "a deal without a title")
            return None
        stage = stages.get(str(record.get("stage_id")))
        if stage is None:
            bad("stage_id", f"stage {record.get('stage_id')!r} is in no pipeline")
            return None
        owner = _id(record.get("owner_id") or record.get("user_id"))
        if owner is None or owner not in owner_ids:
            bad("owner_id", f"unknown owner {owner!r}")
            return None
        try:
            entered = parse_time(record.get("stage_change_time")) or parse_time(
                record.get("add_time")
            )
        except ValueError as error:
            bad("stage_change_time", str(error))
            return None
        if entered is None:
            bad("stage_change_time", "no time the deal entered its stage")
            return None
        custom = record.get("custom_fields") or {}
        quote = None
        key = self.mapping.quote_expiry_property
        if key:
            key = str((fields.get(key) or {}).get("key") or key)
            raw = custom.get(key)
            if isinstance(raw, dict):
                raw = raw.get("value")
            try:
                quote = parse_time(raw)
            except ValueError as error:
                bad(key, str(error))
                return None
        value = record.get("value")
        if value is not None and not isinstance(value, int | float):
            bad("value", f"{value!r} is not a number")
            return None
        state = str(record.get("status") or "open")
        if state == "won":
            status = DealStatus.WON
        elif state == "lost":
            status = DealStatus.LOST
        else:
            labels = self._label_names(fields, record.get("label_ids"))
            status = self.mapping.parked_status(stage.id, stage.name, *labels) or DealStatus.OPEN
        source_key = self.mapping.source_property or "origin"
        source = record.get(source_key, custom.get(source_key))
        person = _id(record.get("person_id"))
        return Deal(
            id=deal_id,
            title=title,
            contact_ids=(person,) if person else (),
            owner_id=owner,
            stage=stage.name,
            stage_entered_at=entered,
            status=status,
            source=self.mapping.source(None if source is None else str(source)),
            quote_expires_at=quote,
            value=float(value) if value is not None else None,
            currency=record.get("currency") or None,
            extra={"stage_id": stage.id, "pipeline": stage.pipeline},
        )

    def _stage_activity(self, deal: Deal, stages: dict[str, Stage]) -> list[Activity]:
        stage_id = str(deal.extra.get("stage_id"))
        kind = self.mapping.stage_activity(stage_id, deal.stage)
        if kind is None:
            return []
        return [
            Activity(
                id=f"{deal.id}:stage:{stage_id}",
                deal_id=deal.id,
                kind=kind,
                at=deal.stage_entered_at,
                contact_id=deal.contact_ids[0] if deal.contact_ids else None,
                subject=f"Deal entered {deal.stage}",
                extra={"from_stage": stage_id},
            )
        ]

    def _passed_stages(
        self, run: SyncRun, deals: list[Deal], stages: dict[str, Stage], since: datetime | None
    ) -> list[Activity]:
        """A proposal or quote stage a deal passed through between two syncs, from its v1
        deal flow (40 tokens a deal, so only for deals whose stage moved and now sits in a
        stage that means neither)."""
        meaning = {s.id: self.mapping.stage_activity(s.id, s.name) for s in stages.values()}
        if since is None or not any(meaning.values()):
            return []
        found: list[Activity] = []
        for deal in deals:
            if meaning.get(str(deal.extra.get("stage_id"))) is not None:
                continue  # its own stage says it (_stage_activity)
            if not self.api.afford(COST["flow"]):
                run.warnings.append(
                    "Pipedrive's daily token budget is low: stages passed between syncs are "
                    "not read from the deal flow"
                )
                break
            for page in self.api.v1_list(
                f"deals/{deal.id}/flow", {"items": "dealChange"}, cost=COST["flow"]
            ):
                for item in page:
                    data = item.get("data") or {}
                    if item.get("object") != "dealChange" or data.get("field_key") != "stage_id":
                        continue
                    stage_id = str(data.get("new_value"))
                    kind = meaning.get(stage_id)
                    at = _time(data.get("log_time") or item.get("timestamp"))
                    if kind is None or at is None or at < since:
                        continue
                    found.append(
                        Activity(
                            id=f"{deal.id}:stage:{stage_id}",
                            deal_id=deal.id,
                            kind=kind,
                            at=at,
                            contact_id=deal.contact_ids[0] if deal.contact_ids else None,
                            subject=f"Deal entered {stages[stage_id].name}",
                            extra={"from_stage": stage_id},
                        )
                    )
        return found

    # ------------------------------------------------------------------ activities
    def _activities(self, run: SyncRun) -> list[Activity]:
        found: list[Activity] = []
        for page in self.api.v2_since("activities", run.since("activities")):
            for record in page:
                activity_id = f"pipedrive:activity:{record.get('id')}"
                if not run.news("activities", activity_id, _time(record.get("update_time"))):
                    continue
                if record.get("is_deleted"):
                    run.deleted_activities.add(activity_id)
                    continue
                deal_id = _id(record.get("deal_id"))
                if deal_id is None:
                    continue
                mapped = self._activity(run, activity_id, deal_id, record)
                if mapped is not None:
                    found.append(mapped)
        return found

    def _activity(
        self, run: SyncRun, activity_id: str, deal_id: str, record: dict[str, Any]
    ) -> Activity | None:
        type_key = str(record.get("type") or "")
        kind = self.mapping.activity_kind(type_key)
        if kind is None and type_key == "task":
            kind = ActivityKind.TASK
        if kind is None:
            return None  # lunch, deadline, email-as-activity: not a fact the rules read
        try:
            due = None
            if record.get("due_date"):
                clock = str(record.get("due_time") or "00:00")[:5]
                due = parse_time(f"{record['due_date']} {clock}:00")
            done_at = parse_time(record.get("marked_as_done_time"))
            added = parse_time(record.get("add_time"))
        except ValueError as error:
            run.problem("activities", activity_id, "due_date", str(error))
            return None
        scheduled = None
        if kind is ActivityKind.MEETING:
            at, scheduled = added or due, due
        elif kind is ActivityKind.CALL:
            if not record.get("done"):
                return None  # a planned call has not happened
            at = done_at or due or added
        else:
            at = due or added
        if at is None:
            run.problem("activities", activity_id, "due_date", "no time")
            return None
        return Activity(
            id=activity_id,
            deal_id=deal_id,
            kind=kind,
            at=at,
            contact_id=_id(record.get("person_id")),
            subject=record.get("subject") or None,
            body=plain(record.get("note")),
            scheduled_for=scheduled,
            extra={"type": type_key, "done": bool(record.get("done"))},
        )

    def _notes(self, run: SyncRun) -> list[Activity]:
        params: dict[str, Any] = {"sort": "update_time ASC"}
        since = run.since("notes")
        if since is not None:
            params["updated_since"] = since.strftime("%Y-%m-%d %H:%M:%S")
        found: list[Activity] = []
        for page in self.api.v1_list("notes", params):
            for record in page:
                note_id = f"pipedrive:note:{record.get('id')}"
                if not run.news("notes", note_id, _time(record.get("update_time"))):
                    continue
                deal_id = _id(record.get("deal_id"))
                at = _time(record.get("add_time"))
                if deal_id is None or at is None:
                    continue
                found.append(
                    Activity(
                        id=note_id,
                        deal_id=deal_id,
                        kind=ActivityKind.NOTE,
                        at=at,
                        contact_id=_id(record.get("person_id")),
                        body=plain(record.get("content")),
                    )
                )
        return found

    def _mail(self, run: SyncRun, deal_ids: list[str]) -> list[Activity]:
        found: list[Activity] = []
        for index, deal_id in enumerate(deal_ids):
            if not self.api.afford(COST["v1_list"]):
                left = deal_ids[index:]
                run.extra["mail"] = left
                run.warnings.append(
                    f"Pipedrive's daily token budget is low: the mail of {len(left)} deal(s) "
                    "is read at the next sync"
                )
                break
            for page in self.api.v1_list(f"deals/{deal_id}/mailMessages"):
                for item in page:
                    mapped = self._message(run, deal_id, item.get("data") or {})
                    if mapped is not None:
                        found.append(mapped)
        return found

    def _message(self, run: SyncRun, deal_id: str, data: dict[str, Any]) -> Activity | None:
        message_id = f"pipedrive:mail:{data.get('id')}:{deal_id}"
        if data.get("deleted_flag") or data.get("draft_flag"):
            return None
        at = _time(data.get("message_time")) or _time(data.get("add_time"))
        if at is None:
            run.problem("mailMessages", message_id, "message_time", "no time")
            return None
        sender = (data.get("from") or [{}])[0]
        return Activity(
            id=message_id,
            deal_id=deal_id,
            kind=ActivityKind.EMAIL,
            at=at,
            direction=Direction.OUT if data.get("sent_flag") else Direction.IN,
            contact_id=_id(sender.get("linked_person_id"))
            or next(
                (
                    _id(t.get("linked_person_id"))
                    for t in data.get("to") or []
                    if t.get("linked_person_id")
                ),
                None,
            ),
            subject=data.get("subject") or None,
            body=data.get("snippet") or None,
            thread_id=_id(data.get("mail_thread_id")),
            message_id=data.get("mua_message_id") or None,
            from_address=sender.get("email_address") or None,
            to_addresses=tuple(
                t["email_address"] for t in data.get("to") or [] if t.get("email_address")
            ),
        )
