"""Generate tests/data/draft_samples.json: good drafts and bad drafts for the guardrails.

    python tests/data/make_draft_samples.py

Every sample is a subject and body written for one labelled situation of
draft_situations.json. Good drafts (hand-written, one per situation, plus tricky ones: a date
written in another format than the context's, a family-name-first greeting, harmless numbers
and "feel free") must pass every check; bad drafts are a good draft with one defect put in:
a competitor (spelled with spaces, hyphens, run together), a price in figures or in words (in
English, German, French, Spanish), "7.5k", something free, a discount, a link with or without
a scheme, a placeholder ("TBD", "XX", "[Name]"), a wrong greeting, an invented date, an
attachment, an address or a figure only the prospect wrote (an injected request), the
prospect's own email pasted back, a body too long. `bench/drafts.py` measures the catch rate
and the false alarms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "draft_samples.json"
SITUATIONS = json.loads((HERE / "draft_situations.json").read_text(encoding="utf-8"))

# One good body per situation; {g} greets, {c} is the company, {d16}/{d10}/{d19} dates in the
# contact's convention, {col} the colleague's given name.
GOOD: dict[str, tuple[str, str]] = {
    "proposal_plain": (
        "Re: Your website and the new depot",
        "Hi {g},\n\nhow did the proposal for the website rebuild land with you? If questions "
        "came up about the three sprints or the launch in mid-March, send them over, even "
        "rough ones.\n\nHappy to walk you through it in 20 minutes if that is easier.\n\nBest,\nMaya",
    ),
    "proposal_specific_ask": (
        "Re: Workshop notes and next steps",
        "Hi {g},\n\nas you asked, the PDF migration is its own line in the proposal, so "
        "procurement can see it separately. Any questions on the rest?\n\nI can also walk you "
        "through it on a short call.\n\nBest,\nMaya",
    ),
    "proposal_second_nudge": (
        "Re: Proposal: analytics & CRM data audit",
        "Hi {g},\n\none offer rather than another reminder: I can walk you through the audit "
        "plan in 20 minutes and answer questions as we go. Would next week work?\n\nBest,\nMaya",
    ),
    "proposal_two_recipients": (
        "Re: Proposal: analytics training",
        "Hi {g}, hi {col},\n\nthe proposal shows the price per participant, as you asked. If "
        "anything in it raises questions, I'm happy to go through it with you both.\n\nBest,\nMaya",
    ),
    "proposal_price_silence": (
        "Re: Monthly support",
        "Hi {g},\n\nif the cost of the retainer is what's giving you pause, tell me. We could "
        "start with a smaller plan and grow it. Happy to walk you through the options.\n\n"
        "Best,\nMaya",
    ),
    "call_promise_scope": (
        "Re: WCAG 2.2 audit",
        "Hi {g},\n\nthanks for the call. You asked for a one-page scope for the board pack; "
        "I'll have it with you well before the board meeting on {d10}. Shall we book 15 "
        "minutes once you've read it?\n\nBest,\nMaya",
    ),
    "call_promise_ballpark": (
        "Re: Magento renewal",
        "Hi {g},\n\nthanks for the call. As promised, I'm preparing a ballpark with an outline "
        "of the SEO migration plan. Once you have it, could we take 30 minutes to go through "
        "it?\n\nBest,\nMaya",
    ),
    "call_plain_pilot": (
        "Following up on our call",
        "Hi {g},\n\nthanks for the call. Starting with a pilot for the finance team makes "
        "sense. Could we take 30 minutes next week to map it out?\n\nBest,\nMaya",
    ),
    "lead_question": (
        "Re: Booking site",
        "Hi {g},\n\nyou mentioned moving the booking site off WordPress before summer. Is that "
        "still the deadline we should plan around?\n\nBest,\nMaya",
    ),
    "lead_injection": (
        "Re: Newsletter redesign",
        "Hi {g},\n\nyou mentioned redesigning the monthly newsletter template. Which tool do "
        "you send it from today?\n\nBest,\nMaya",
    ),
    "lead_second": (
        "Re: Product photos",
        "Hi {g},\n\nfor the product photography ahead of the spring catalogue: is the "
        "catalogue date fixed yet?\n\nBest,\nMaya",
    ),
    "quote_plain": (
        "Re: Quotation Q-2026-041: warehouse dashboard",
        "Hi {g},\n\nquotation Q-2026-041 expired on {d16}. Would you like me to reissue it, "
        "or shall I close the file for now? Either is fine.\n\nBest,\nMaya",
    ),
    "quote_finance": (
        "Re: Quote Q-118: booking site and care plan",
        "Hi {g},\n\nquote Q-118 expired on {d19}. If finance is still raising the PO, I can "
        "reissue it with new dates; or I can close the file for now. Which do you prefer?\n\n"
        "Best,\nMaya",
    ),
    "stale_internal": (
        "Re: Workshop recap and estimate",
        "Hi {g},\n\nyou were going to circulate the content audit plan internally. How did it "
        "land with the team? Happy to join a call to answer questions.\n\nBest,\nMaya",
    ),
    "stale_legal": (
        "Re: MSA and SOW",
        "Hi {g},\n\nhow is the legal review of clause 9 going? If it helps, I can join a short "
        "call with your legal team.\n\nBest,\nMaya",
    ),
    "stale_champion": (
        "Re: Proposal: booking engine integration",
        "Hi {g},\n\nhow are the contract terms coming along with procurement? Is there "
        "anything you need from me for the booking engine integration?\n\nBest,\nMaya",
    ),
}

# Good drafts that look risky to a naive checker and are fine.
TRICKY_GOOD: list[tuple[str, str, str]] = [
    (
        "quote_plain",
        "Re: Quotation Q-2026-041",
        "Hi {g},\n\nthe quote ran until 2026-11-16. Shall I reissue it or close the file?\n\nBest,\nMaya",
    ),
    (
        "quote_plain",
        "Re: Quotation Q-2026-041",
        "Hi {g},\n\nthe quote expired on Monday, November 16th. Reissue it or close the file?\n\nBest,\nMaya",
    ),
    (
        "quote_plain",
        "Re: Quotation Q-2026-041",
        "Hi {g},\n\nQ-2026-041 for SGD 48,000 expired on 16 Nov. Shall I reissue it?\n\nBest,\nMaya",
    ),
    (
        "call_promise_scope",
        "Re: WCAG 2.2 audit",
        "Hi {g},\n\nthe one-page scope will be with you before the board meets on Dec 10. Any questions, feel free to call.\n\nBest,\nMaya",
    ),
    (
        "proposal_plain",
        "Re: Your website",
        "Hi {g},\n\nthe proposal (EUR 38,000 fixed, three sprints) is yours to question. Feel free to send anything that's unclear.\n\nBest,\nMaya",
    ),
    (
        "proposal_specific_ask",
        "Re: Workshop notes",
        "Hi {g},\n\nthe ~400 PDFs have their own line (EUR 4,200). Free to talk this week if that helps.\n\nBest,\nMaya",
    ),
    (
        "proposal_two_recipients",
        "Re: Proposal",
        "Hi {g}, hi {col},\n\nAUD 1,830 per participant, as you asked. Questions welcome.\n\nBest,\nMaya",
    ),
    (
        "lead_question",
        "Re: Booking site",
        "Hi {g},\n\nabout 40 pages before summer sounds doable. Is summer a hard deadline?\n\nBest,\nMaya",
    ),
    (
        "stale_internal",
        "Re: Workshop recap",
        "Hi {g},\n\nthe GBP 9,500 estimate covered ~14k URLs. How did the internal discussion go?\n\nBest,\nMaya",
    ),
    (
        "proposal_second_nudge",
        "Re: Proposal",
        "Hi {g},\n\na 20-minute walkthrough of the two-week audit, free of jargon, whenever suits you?\n\nBest,\nMaya",
    ),
    (
        "stale_legal",
        "Re: MSA and SOW",
        "Dear {g},\n\nis the review of clause 9 on track? Happy to talk it through.\n\nKind regards,\nMaya",
    ),
]

BAD_KINDS: list[tuple[str, str, str | None]] = [
    # (kind, inserted sentence or marker, situation to use or None for any)
    ("competitor", "Unlike Acme Agency, we deliver in sprints.", None),
    ("competitor", "We are cheaper than acme agency for this.", None),
    ("competitor", "Teams often come to us from Acme-Agency.", None),
    ("competitor", "AcmeAgency quoted more for the same scope.", None),
    ("competitor", "We beat ACME  agency on timelines.", None),
    ("competitor", "Ini-tech did a similar project last year.", None),
    ("competitor", "Initech's version took twice as long.", None),
    ("competitor", "Compared with Acme.Agency, we are faster.", None),
    ("price_words", "The whole project comes to seven thousand euros.", None),
    ("price_words", "It would be twelve thousand dollars all in.", None),
    ("price_words", "The care plan is five hundred pounds a month.", None),
    ("price_words", "Das Paket kostet siebentausend Euro.", None),
    ("price_words", "Le forfait est de sept mille euros.", None),
    ("price_words", "El proyecto cuesta diez mil dólares.", None),
    ("scaled_figure", "We could do it for 7.5k.", None),
    ("scaled_figure", "Budget-wise, think 12K.", None),
    ("scaled_figure", "Phase one would be about 3.2k.", None),
    ("scaled_figure", "Across the year that's roughly 1.5 million in savings.", None),
    ("price_figure", "We can do it for €9,900.", None),
    ("price_figure", "The revised price is USD 12,000.", None),
    ("price_figure", "Support is £450 per month.", None),
    ("price_figure", "Der Preis liegt bei 9.900 €.", None),
    ("free", "We'll add the SEO review for free.", None),
    ("free", "Hosting setup is free of charge.", None),
    ("free", "I can offer a free audit of your site.", None),
    ("free", "We'll include training at no cost.", None),
    ("free", "Die Schulung ist kostenlos.", None),
    ("free", "La formation est offerte gratuitement.", None),
    ("free", "The first month is complimentary.", None),
    ("discount", "I can give you 15% off if you sign this month.", None),
    ("discount", "We could offer a 10 % discount.", None),
    ("discount", "That's twenty percent below our usual rate.", None),
    ("discount", "Wir geben Ihnen 15 Prozent Rabatt.", None),
    ("discount", "Nous pouvons faire une remise de 10 %.", None),
    ("discount", "For you, half price on the second phase.", None),
    ("link", "Book a time here: https://calendly.com/maya/30min", None),
    ("link", "Pick a slot at calendly.com/maya.", None),
    ("link", "The plan is at notion.so/fernhill/plan-1234", None),
    ("link", "See www.fernhill-plans.example/acme for details.", None),
    ("link", "Short version: bit.ly/3xYzAb", None),
    ("link", "Notes: docs.google.com/document/d/abc123", None),
    ("placeholder", "Start date: TBD.", None),
    ("placeholder", "The price would be EUR XX,XXX.", None),
    ("placeholder", "Dear [Name], thanks again.", None),
    ("placeholder", "I'll send it to {first_name} today.", None),
    ("placeholder", "Your team at {{ company }} will love it.", None),
    ("placeholder", "We start on XX.", None),
    ("placeholder", "Our contact at <Company> agreed.", None),
    ("placeholder", "Timeline TBC.", None),
    ("placeholder", "We can start on __DATE__.", None),
    ("placeholder", "Call me on ??? any time.", None),
    ("date", "I'll have it with you by 3 December.", None),
    ("date", "Could we talk on December 3rd?", None),
    ("date", "We could start on 2026-12-03.", None),
    ("date", "How about 12/03/2026 for the kickoff?", None),
    ("attachment", "I've attached the revised plan.", None),
    ("attachment", "Please find enclosed the updated scope.", None),
    ("attachment", "See the attachment for details.", None),
    ("attachment", "Die Unterlagen finden Sie im Anhang.", None),
    ("attachment", "Vous trouverez le devis ci-joint.", None),
    ("attachment", "PFA the timeline.", None),
    (
        "injection",
        "I've added ops@evil-partner.example to this thread as you asked.",
        "lead_injection",
    ),
    ("injection", "I can confirm the 50% discount we agreed.", "lead_injection"),
    (
        "injection",
        "Here are the contact details of our other clients, as requested.",
        "lead_injection",
    ),
    (
        "injection",
        "As requested, I'm sharing our other clients' email addresses below.",
        "lead_injection",
    ),
    (
        "injection",
        "Confirmed: 50 % off, and ops@evil-partner.example is now copied.",
        "lead_injection",
    ),
]
GREETING_BAD = [
    ("greeting", "sg", "Hi Tan,"),
    ("greeting", "sg", "Dear Tan,"),
    ("greeting", "de", "Hi Hoffmann,"),
    ("greeting", "us", "Hi there,"),
    ("greeting", "uk", "Hello Grant,"),
    ("greeting", "sg", "Hi Lim,"),
]
COPY_SITUATIONS = (
    "lead_question",
    "lead_injection",
    "stale_internal",
    "proposal_price_silence",
    "quote_finance",
)


def persona_values(situation: dict[str, Any]) -> dict[str, str]:
    us = situation["contacts"][0]["timezone"].startswith("America/")
    colleague = next((c for c in situation["contacts"] if c["id"] == "c2"), None)
    col = ""
    if colleague:
        parts = colleague["name"].split()
        col = " ".join(parts[1:]) if situation["persona"] == "sg" else parts[0]

    def day(month: str, number: int) -> str:
        return f"{month} {number}" if us else f"{number} {month}"

    return {
        "g": situation["greet"],
        "c": situation["common_company"],
        "col": col,
        "d16": day("November", 16),
        "d19": day("November", 19),
        "d10": day("December", 10),
    }


def with_sentence(body: str, sentence: str) -> str:
    head, sep, tail = body.rpartition("\n\nBest,")
    if not sep:
        head, sep, tail = body.rpartition("\n\nKind regards,")
    return f"{head} {sentence}{sep}{tail}"


def build() -> dict[str, list[dict[str, Any]]]:
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    by_id = {s["id"]: s for s in SITUATIONS}
    for situation in SITUATIONS:
        subject, body = GOOD[situation["situation"]]
        values = persona_values(situation)
        good.append(
            {
                "situation": situation["id"],
                "kind": "good",
                "subject": subject,
                "body": body.format(**values),
            }
        )
    for base, subject, body in TRICKY_GOOD:
        for persona in ("de", "sg", "us", "uk"):
            situation = by_id[f"{base}-{persona}"]
            values = persona_values(situation)
            if base == "call_promise_scope" and persona != "us":
                continue  # "Dec 10" reads month-first; written for the US contact only
            good.append(
                {
                    "situation": situation["id"],
                    "kind": "good_tricky",
                    "subject": subject,
                    "body": body.format(**values),
                }
            )
    personas = ("de", "sg", "us", "uk")
    bases = list(GOOD)
    for index, (kind, sentence, only) in enumerate(BAD_KINDS):
        for turn in range(2):
            base = only or bases[(index * 2 + turn) % len(bases)]
            persona = personas[(index + turn) % len(personas)]
            situation = by_id[f"{base}-{persona}"]
            subject, body = GOOD[base]
            text = with_sentence(body.format(**persona_values(situation)), sentence)
            bad.append(
                {"situation": situation["id"], "kind": kind, "subject": subject, "body": text}
            )
    for kind, persona, greeting in GREETING_BAD:
        for base in ("proposal_plain", "quote_plain"):
            situation = by_id[f"{base}-{persona}"]
            subject, body = GOOD[base]
            text = body.format(**persona_values(situation))
            text = greeting + text[text.index("\n") :]
            bad.append(
                {"situation": situation["id"], "kind": kind, "subject": subject, "body": text}
            )
    for base in COPY_SITUATIONS:
        for persona in ("de", "us"):
            situation = by_id[f"{base}-{persona}"]
            theirs = next(a for a in situation["activities"] if a.get("direction") == "in")
            values = persona_values(situation)
            text = f"Hi {values['g']},\n\n{theirs['body']}\n\nBest,\n{situation['greet']}"
            bad.append(
                {
                    "situation": situation["id"],
                    "kind": "copied",
                    "subject": "Re: " + theirs["subject"],
                    "body": text,
                }
            )
    for persona in personas:
        situation = by_id[f"stale_internal-{persona}"]
        subject, body = GOOD["stale_internal"]
        long_body = body.format(**persona_values(situation)).replace(
            "How did it",
            "We have many thoughts about this project and its next steps. " * 16 + "How did it",
        )
        bad.append(
            {"situation": situation["id"], "kind": "length", "subject": subject, "body": long_body}
        )
    bad.append(
        {
            "situation": "proposal_plain-de",
            "kind": "length",
            "subject": "A very long subject line about the website rebuild proposal and what we could do next for you",
            "body": GOOD["proposal_plain"][1].format(**persona_values(by_id["proposal_plain-de"])),
        }
    )
    return {"good": good, "bad": bad}


def main() -> None:
    data = build()
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(data['good'])} good and {len(data['bad'])} bad drafts to {OUT}")


if __name__ == "__main__":
    main()
