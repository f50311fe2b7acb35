"""Matching a message to a deal, a contact or a company."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from reading.mime import ParsedMessage, normalize_address, normalize_message_id
from triggers.reading import Match, Reading

# --------------------------------------------------------------------------------------------
# match_message
# --------------------------------------------------------------------------------------------

# Mailbox providers shared by many companies: a sender's domain here says nothing about which
# company they work for, whatever a CRM's domain list claims.
_FREEMAIL: Final = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "qq.com",
        "163.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
    }
)


@dataclass(frozen=True, slots=True)
class Known:
    """What the pipeline knows, as matching needs it (keys normalized once, by `of`)."""

    message_ids: Mapping[str, str] = field(default_factory=dict)  # Message-ID -> deal id
    addresses: Mapping[str, str] = field(default_factory=dict)  # address -> contact id
    company_domains: Mapping[str, str] = field(default_factory=dict)  # domain -> company id

    @classmethod
    def of(
        cls,
        message_ids: Mapping[str, str] = {},
        addresses: Mapping[str, str] = {},
        company_domains: Mapping[str, str] | None = None,
    ) -> Known:
        """Keys compared case-insensitively, with or without angle brackets."""
        ids = {n: v for k, v in message_ids.items() if (n := normalize_message_id(k))}
        contacts = {n: v for k, v in addresses.items() if (n := normalize_address(k))}
        domains = {k.lower().strip().lstrip("@"): v for k, v in (company_domains or {}).items()}
        return cls(ids, contacts, domains)


def match_message(msg: ParsedMessage, known: Known, reading: Reading | None = None) -> Match:
    """Tie an inbound message to a deal, a contact or a company.

    1. Thread headers: In-Reply-To, then References (newest first), then the Message-ID of an
       original attached to a bounce or complaint, against the known Message-IDs.
    2. Addresses: the sender, Reply-To, and for a bounce its failed recipients, against the
       contacts' addresses.
    3. An unknown sender whose domain is a known company's (also matching subdomains) is
       reported as `company_domain`, never dropped."""
    ids = known.message_ids
    thread = [*msg.in_reply_to, *reversed(msg.references), *msg.embedded_message_ids]
    for message_id in thread:
        deal = ids.get(message_id)
        if deal is not None:
            return Match(
                kind="thread", deal_id=deal, address=msg.from_address, message_id=message_id
            )

    contacts = known.addresses
    candidates: list[str] = []
    if reading is not None and reading.kind == "bounce":
        candidates += reading.failed_recipients
    candidates += [a for a in (msg.from_address, *msg.reply_to) if a]
    for address in candidates:
        contact = contacts.get(address.lower())
        if contact is not None:
            return Match(kind="contact", contact_id=contact, address=address)

    domains = known.company_domains
    for address in candidates:
        domain = address.rsplit("@", 1)[-1].lower()
        if domain in _FREEMAIL:
            continue
        labels = domain.split(".")
        for start in range(len(labels) - 1):
            company = domains.get(".".join(labels[start:]))
            if company is not None:
                return Match(kind="company_domain", company_id=company, address=address)
    return Match(kind="unmatched", address=msg.from_address)
