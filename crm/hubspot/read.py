"""Reading a HubSpot account into the pipeline: one stream per object, each with its own
watermark on `hs_lastmodifieddate` (`lastmodifieddate` for contacts).

A full read uses the list endpoints (associations inline, no result ceiling); an incremental
one searches on the modification time and reads the associations of each page in one batch,
so a sync costs about ceil(changed / 200) requests per object, plus owners and pipelines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.hubspot.api import HubSpotApi
from crm.mapping import CrmMapping, stage_history_activities
from crm.source import SyncRun, parse_time
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

DEAL_PROPERTIES = [
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
    "hs_merged_object_ids",
    "hs_analytics_source",
]
CONTACT_PROPERTIES = [
    "firstname",
    "lastname",
    "email",
    "company",
    "hs_additional_emails",
    "hs_timezone",
    "hs_email_optout",
    "hs_email_hard_bounce_reason_enum",
    "lastmodifieddate",
]
ENGAGEMENTS: dict[str, list[str]] = {
    "emails": [
        "hs_email_direction",
        "hs_email_subject",
        "hs_email_text",
        "hs_email_thread_id",
        "hs_email_headers_message_id",
        "hs_email_headers_in_reply_to",
        "hs_email_from_email",
        "hs_email_to_email",
    ],
    "calls": ["hs_call_body", "hs_call_disposition", "hs_call_title"],
    "meetings": ["hs_meeting_title", "hs_meeting_body", "hs_meeting_start_time", "hs_createdate"],
    "notes": ["hs_note_body"],
    "tasks": ["hs_task_subject", "hs_task_body", "hs_task_status"],
}
KINDS = {
    "emails": ActivityKind.EMAIL,
    "calls": ActivityKind.CALL,
    "meetings": ActivityKind.MEETING,
    "notes": ActivityKind.NOTE,
    "tasks": ActivityKind.TASK,
}
MODIFIED = "hs_lastmodifieddate"


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    label: str
    pipeline: str
    closed: bool
    probability: float | None


@dataclass(slots=True)
class Item:
    id: str
    properties: dict[str, Any]
    associations: dict[str, list[str]]


def _assoc_inline(record: dict[str, Any], to_type: str) -> list[str]:
    block = (record.get("associations") or {}).get(to_type) or {}
    ids: list[str] = []
    for result in block.get("results", []):
        value = str(result.get("id"))
        if value not in ids:
            ids.append(value)
    return ids


def stream(
    api: HubSpotApi,
    run: SyncRun,
    object_type: str,
    modified: str,
    properties: list[str],
    associations: list[str],
) -> Iterator[Item]:
    """The object's records this sync must see, with their associations."""
    since = run.since(object_type)
    wanted = [*properties, modified] if modified not in properties else properties
    if since is None:
        for page in api.list_objects(object_type, wanted, associations):
            for record in page:
                item = Item(
                    str(record.get("id")),
                    dict(record.get("properties") or {}),
                    {t: _assoc_inline(record, t) for t in associations},
                )
                if run.news(object_type, item.id, _time(item.properties.get(modified))):
                    yield item
        return
    since_ms = int(since.timestamp() * 1000)
    for page in api.search_since(object_type, modified, since_ms, wanted):
        fresh = [
            Item(str(r.get("id")), dict(r.get("properties") or {}), {})
            for r in page
            if run.news(
                object_type, str(r.get("id")), _time((r.get("properties") or {}).get(modified))
            )
        ]
        if not fresh:
            continue
        for to_type in associations:
            linked = api.associations(object_type, to_type, [i.id for i in fresh])
            for item in fresh:
                item.associations[to_type] = linked.get(item.id, [])
        yield from fresh


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def hubspot_zone(value: str | None) -> str | None:
    """HubSpot's `hs_timezone` options (`america_slash_new_york`) as IANA names."""
    if not value:
        return None
    name = "/".join(
        "_".join(word.capitalize() for word in part.split("_")) for part in value.split("_slash_")
    )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


class HubSpotReader:
    def __init__(self, api: HubSpotApi, mapping: CrmMapping, *, vendor: str = "hubspot") -> None:
        self.api = api
        self.mapping = mapping
        self.vendor = vendor

    # ------------------------------------------------------------------ whole read
    def read(self, run: SyncRun) -> Pipeline:
        owners = [self.mapping.owner(o) for o in self._owners(run)]
        stages = self.stages()
        contacts = list(self._contacts(run))
        owner_ids = {o.id for o in owners}
        deals: list[Deal] = []
        activities: list[Activity] = []
        for item in stream(
            self.api, run, "deals", MODIFIED, self._deal_properties(stages), ["contacts"]
        ):
            mapped = self._deal(run, item, stages, owner_ids)
            if mapped is None:
                continue
            deal, history = mapped
            deals.append(deal)
            activities += stage_history_activities(deal, history, self.mapping)
            for merged in str(item.properties.get("hs_merged_object_ids") or "").split(";"):
                if merged.strip():
                    run.deleted_deals.add(merged.strip())
        if not run.full:
            run.deleted_deals |= self._archived(run, "deals")
            run.deleted_contacts |= self._archived(run, "contacts")
        for object_type in ENGAGEMENTS:
            activities += self._engagements(run, object_type)
        return Pipeline(tuple(owners), tuple(contacts), tuple(deals), tuple(activities))

    # ------------------------------------------------------------------ objects
    def _owners(self, run: SyncRun) -> Iterator[Owner]:
        for record in self.api.owners():
            owner_id = str(record.get("id") or "")
            email = str(record.get("email") or "")
            if not owner_id or not email:
                run.problem("owners", owner_id or None, "email", "an owner without an email")
                continue
            name = " ".join(str(record.get(k)) for k in ("firstName", "lastName") if record.get(k))
            yield Owner(owner_id, name or email, email, extra={"user_id": record.get("userId")})

    def stages(self) -> dict[str, Stage]:
        stages: dict[str, Stage] = {}
        for pipeline in self.api.pipelines():
            for stage in pipeline.get("stages", []):
                meta = stage.get("metadata") or {}
                probability = meta.get("probability")
                stages[str(stage.get("id"))] = Stage(
                    id=str(stage.get("id")),
                    label=str(stage.get("label") or stage.get("id")),
                    pipeline=str(pipeline.get("id")),
                    closed=str(meta.get("isClosed", "false")).lower() == "true",
                    probability=float(probability) if probability not in (None, "") else None,
                )
        return stages

    def _deal_properties(self, stages: dict[str, Stage]) -> list[str]:
        props = list(DEAL_PROPERTIES)
        for stage_id in stages:
            props += [f"hs_v2_date_entered_{stage_id}", f"hs_date_entered_{stage_id}"]
        for extra in (self.mapping.quote_expiry_property, self.mapping.source_property):
            if extra and extra not in props:
                props.append(extra)
        return props

    def _contacts(self, run: SyncRun) -> Iterator[Contact]:
        items = list(
            stream(self.api, run, "contacts", "lastmodifieddate", CONTACT_PROPERTIES, ["companies"])
        )
        company_ids = {
            i.associations["companies"][0]
            for i in items
            if not i.properties.get("company") and i.associations.get("companies")
        }
        names = self._company_names(sorted(company_ids))
        for item in items:
            p = item.properties
            email = (p.get("email") or "").strip() or None
            name = " ".join(str(p[k]).strip() for k in ("firstname", "lastname") if p.get(k))
            if not name and not email:
                run.problem("contacts", item.id, "email", "a contact with neither name nor email")
                continue
            company = p.get("company") or next(
                (names[c] for c in item.associations.get("companies", []) if c in names), None
            )
            status = ContactStatus.ACTIVE
            if str(p.get("hs_email_optout") or "").lower() == "true":
                status = ContactStatus.DO_NOT_CONTACT
            elif p.get("hs_email_hard_bounce_reason_enum"):
                status = ContactStatus.BOUNCED
            alt = tuple(
                a.strip() for a in str(p.get("hs_additional_emails") or "").split(";") if a.strip()
            )
            yield Contact(
                id=item.id,
                name=name or str(email),
                email=email,
                company=company,
                timezone=hubspot_zone(p.get("hs_timezone")),
                status=status,
                alt_emails=alt,
            )

    def _company_names(self, ids: list[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for start in range(0, len(ids), 100):
            answer = self.api.http.post(
                f"{self.api.objects('companies')}/batch/read",
                {"inputs": [{"id": i} for i in ids[start : start + 100]], "properties": ["name"]},
                idempotent=True,
            )
            for record in answer.get("results", []) if isinstance(answer, dict) else []:
                name = (record.get("properties") or {}).get("name")
                if name:
                    names[str(record.get("id"))] = str(name)
        return names

    def _deal(
        self, run: SyncRun, item: Item, stages: dict[str, Stage], owner_ids: set[str]
    ) -> tuple[Deal, dict[str, tuple[str, datetime]]] | None:
        p = item.properties

        def bad(field: str, problem: str) -> None:
            run.problem("deals", item.id, field, problem)

        title = (p.get("dealname") or "").strip()
        if not title:
            bad("dealname", "a deal without a name")
            return None
        stage = stages.get(str(p.get("dealstage") or ""))
        if stage is None:
            bad("dealstage", f"stage {p.get('dealstage')!r} is in no deal pipeline")
            return None
        owner = str(p.get("hubspot_owner_id") or "")
        if owner not in owner_ids:
            bad(
                "hubspot_owner_id",
                "no owner; assign one in HubSpot" if not owner else f"unknown owner {owner!r}",
            )
            return None
        history: dict[str, tuple[str, datetime]] = {}
        try:
            for stage_id, known in stages.items():
                at = parse_time(p.get(f"hs_v2_date_entered_{stage_id}")) or parse_time(
                    p.get(f"hs_date_entered_{stage_id}")
                )
                if at is not None:
                    history[stage_id] = (known.label, at)
            created = parse_time(p.get("createdate"))
        except ValueError as error:
            bad("hs_v2_date_entered", str(error))
            return None
        entered = history.get(stage.id, (stage.label, created))[1]
        if entered is None:
            bad(f"hs_v2_date_entered_{stage.id}", "no time the deal entered its stage")
            return None
        try:
            value = float(p["amount"]) if p.get("amount") not in (None, "") else None
        except ValueError:
            bad("amount", f"{p.get('amount')!r} is not a number")
            return None
        quote = None
        if self.mapping.quote_expiry_property:
            try:
                quote = parse_time(p.get(self.mapping.quote_expiry_property))
            except ValueError as error:
                bad(self.mapping.quote_expiry_property, str(error))
                return None
        if stage.closed:
            won = stage.probability is not None and stage.probability >= 1.0
            status = DealStatus.WON if won else DealStatus.LOST
        else:
            status = self.mapping.parked_status(stage.id, stage.label) or DealStatus.OPEN
        source = p.get(self.mapping.source_property or "hs_analytics_source")
        deal = Deal(
            id=item.id,
            title=title,
            contact_ids=tuple(item.associations.get("contacts", [])),
            owner_id=owner,
            stage=stage.label,
            stage_entered_at=entered,
            status=status,
            source=self.mapping.source(source),
            quote_expires_at=quote,
            value=value,
            currency=p.get("deal_currency_code") or None,
            extra={"stage_id": stage.id, "pipeline": stage.pipeline},
        )
        return deal, history

    def _archived(self, run: SyncRun, object_type: str) -> set[str]:
        """Records HubSpot archived (deleted) since this stream's watermark."""
        since = run.since(object_type)
        if since is None:
            return set()
        margin = since - timedelta(minutes=5)
        gone: set[str] = set()
        for page in self.api.list_objects(object_type, ["hs_object_id"], [], archived=True):
            for record in page:
                archived_at = _time(record.get("archivedAt"))
                if archived_at is None or archived_at >= margin:
                    gone.add(str(record.get("id")))
        return gone

    def _engagements(self, run: SyncRun, object_type: str) -> list[Activity]:
        found: list[Activity] = []
        props = [*ENGAGEMENTS[object_type], "hs_timestamp"]
        for item in stream(self.api, run, object_type, MODIFIED, props, ["deals", "contacts"]):
            found += self._activities(run, object_type, item)
        return found

    def _activities(self, run: SyncRun, object_type: str, item: Item) -> list[Activity]:
        p = item.properties
        deals = item.associations.get("deals", [])
        if not deals:
            return []  # on no deal: nothing the rules look at
        try:
            at = parse_time(p.get("hs_timestamp"))
            if object_type == "meetings":
                at = parse_time(p.get("hs_createdate")) or at
        except ValueError as error:
            run.problem(object_type, item.id, "hs_timestamp", str(error))
            return []
        if at is None:
            run.problem(object_type, item.id, "hs_timestamp", "no time")
            return []
        contacts = item.associations.get("contacts", [])
        fields: dict[str, Any] = {"contact_id": contacts[0] if contacts else None}
        if object_type == "emails":
            direction = str(p.get("hs_email_direction") or "")
            if direction not in ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"):
                run.problem(
                    "emails", item.id, "hs_email_direction", f"unknown direction {direction!r}"
                )
                return []
            fields |= {
                "direction": Direction.IN if direction == "INCOMING_EMAIL" else Direction.OUT,
                "subject": p.get("hs_email_subject") or None,
                "body": p.get("hs_email_text") or None,
                "thread_id": p.get("hs_email_thread_id") or None,
                "message_id": p.get("hs_email_headers_message_id") or None,
                "in_reply_to": p.get("hs_email_headers_in_reply_to") or None,
                "from_address": p.get("hs_email_from_email") or None,
                "to_addresses": tuple(
                    a.strip() for a in str(p.get("hs_email_to_email") or "").split(";") if a
                ),
            }
        elif object_type == "calls":
            fields |= {
                "subject": p.get("hs_call_title") or None,
                "body": p.get("hs_call_body") or None,
                "outcome": p.get("hs_call_disposition") or None,
            }
        elif object_type == "meetings":
            try:
                scheduled = parse_time(p.get("hs_meeting_start_time"))
            except ValueError as error:
                run.problem("meetings", item.id, "hs_meeting_start_time", str(error))
                return []
            fields |= {
                "subject": p.get("hs_meeting_title") or None,
                "body": p.get("hs_meeting_body") or None,
                "scheduled_for": scheduled,
            }
        elif object_type == "notes":
            fields |= {"body": p.get("hs_note_body") or None}
        else:
            fields |= {
                "subject": p.get("hs_task_subject") or None,
                "body": p.get("hs_task_body") or None,
                "outcome": p.get("hs_task_status") or None,
            }
        return [
            Activity(
                id=f"hubspot:{object_type}:{item.id}:{deal}",
                deal_id=deal,
                kind=KINDS[object_type],
                at=at,
                extra={"engagement": object_type, "engagement_id": item.id},
                **fields,
            )
            for deal in deals
        ]
