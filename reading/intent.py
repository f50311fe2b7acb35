"""Intent, sentiment, referral and injection of a person's reply, by rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from reading._rx import lazy
from reading._rx import rx as _rx
from reading.dates import extract_resume_date
from reading.mime import _EMAIL
from triggers.reading import Intent, OptOut, Reading, Sentiment

_INJECTION = _rx(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,30}\b(?:previous|prior|above|earlier|"
    r"preceding|all|your|the|system|these)\b.{0,20}\b(?:instructions?|prompts?|directions|rules|"
    r"guidelines|messages|context)\b",
    r"\b(?:new|updated|real|actual) instructions?\s*:",
    r"\b(?:ignore|disregard)\s+(?:all\s+)?(?:of\s+)?(?:the\s+|everything\s+)?above\b(?!\s+(?:e-?mail|"
    r"message|note|mail|reply))",
    r"\bsystem prompt\b|\bdeveloper mode\b|\bjailbreak\b|\bprompt injection\b",
    r"</?\s*(?:system|untrusted|instructions?|assistant)\s*>|\[(?:system|inst)\]|<\|im_start\|>",
    r"\b(?:you are|you're) now (?:a|an|in|my)\b|\bpretend (?:to be|you are)\b",
    r"\b(?:as an? (?:ai|llm|language model|assistant|bot))\b.{0,40}\b(?:must|should|will|need)\b",
    r"\b(?:ai|bot|assistant|model|gpt|llm)\b[,:]? (?:please )?(?:ignore|disregard|reply|respond|"
    r"output|print|classify|mark|label)\b",
    r"\badd (?:me|us|this address|my colleagues?) to (?:another|a different|your other|all "
    r"(?:your|of your|other)|every|more|other|additional) (?:mailing )?lists?\b",
    r"\bsubscribe me to (?:all|every|other|another)\b",
    r"\b(?:send|give|share|forward|export|email|provide) (?:me|us)?\s*(?:a copy of )?(?:your|the|"
    r"all (?:your|of your)) (?:full |entire |complete )?(?:contact|customer|client|lead|user|"
    r"prospect|subscriber)s?(?: e-?mail)? (?:database|list|data|details|records|emails|file|"
    r"addresses)\b",
    r"\b(?:reveal|print|show|repeat|output|tell me)\b.{0,20}\b(?:system prompt|your (?:prompt|"
    r"instructions|rules|api key|credentials|password))\b",
    r"\b(?:mark|classify|label|tag|flag) (?:this|me|my|the)(?: \w+)? as\b"
    r"(?! (?:a )?(?:do[- ]not|dnc|unsubscribed|opted[- ]out|no[- ]contact)\b)",
    r"\bif you(?:'re| are) an? (?:ai|llm|bot|language model|assistant|automated system)\b",
    r"\b(?:change|set|update|move) (?:the )?(?:recipient|deal ?stage|deal status|stage|status|"
    r"crm record)s? to\b",
    r"\b(?:forward|send) this (?:e-?mail|message) to (?:all|every|everyone)\b",
    # de, fr, es, it, pt, nl
    r"\bignorier(?:e|en sie)\b.{0,30}\banweisungen\b",
    r"\bignore[zr]?\b.{0,30}\binstructions\b",
    r"\bignora[r]?\b.{0,30}\b(?:instrucciones|istruzioni)\b",
    r"\bignor[ea]\b.{0,30}\binstruções\b",
    r"\bnegeer\b.{0,30}\binstructies\b",
)

_REFERRAL_CUE = _rx(
    r"\b(?:talk|speak|reach out|get in touch|connect|chat|follow up)(?:ing)? (?:to|with)\b",
    r"\b(?:contact|email|e-mail|ping|try|ask|call)\b(?= (?:my |our |the )?(?:colleague |boss |"
    r"manager |head of \w+ |cto |ceo |coo |cfo |vp \w+ )?(?-i:[A-Z]))",
    r"\b(?:cc'?(?:ing|ed|d)|copying|looping in|loop in|looped in|introducing|adding|added)\b",
    r"\bforwarded (?:this|your (?:e-?mail|note|message)) to\b",
    r"\bthe (?:right|best|correct) (?:person|contact) (?:is|would be|here is)\b",
    r"\b(?:handles|owns|is responsible for|is in charge of|looks after|runs|manages|leads)\b",
    r"\bwenden sie sich (?:bitte )?an\b|\bansprechpartner(?:in)? ist\b",
    r"\bcontactez\b|\bs'adresser à\b|\badressez-vous à\b",
    r"\bcontacta(?:r)? (?:a|con)\b|\bhabla con\b",
    r"\brivolg(?:ersi|etevi|iti) a\b|\bcontatta(?:re)?\b",
    r"\bfale com\b|\bprocure\b|\bentre em contato com\b",
    r"\bneem contact op met\b|\bmail (?:met|naar)\b",
)
_NAME = lazy(
    r"(?P<name>[A-ZÀ-Þ][a-zß-ÿ'’-]+(?:\s+(?:van|de|der|von|da|del|di|la|le|dos|du)"
    r"(?=\s+[A-ZÀ-Þ]))?(?:\s+[A-ZÀ-Þ][a-zß-ÿ'’-]+){0,2})"
)
_NOT_NAMES = frozenset(
    [
        # a colleague's role before their name, in the seven languages
        "kollegin",
        "kollege",
        "kollegen",
        "vertretung",
        "collègue",
        "colleague",
        "compañera",
        "compañero",
        "collega",
        "colega",
        "assistant",
        "assistante",
        "assistente",
        "i",
        "i'm",
        "i'd",
        "i'll",
        "we",
        "our",
        "my",
        "the",
        "a",
        "an",
        "he",
        "she",
        "they",
        "this",
        "that",
        "it",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "best",
        "regards",
        "cheers",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "ceo",
        "cto",
        "coo",
        "cfo",
        "vp",
        "head",
        "team",
        "sales",
        "marketing",
        "procurement",
        "finance",
        "legal",
        "it",
        "ops",
        "operations",
        "engineering",
        "hr",
        "please",
        "sorry",
        "unfortunately",
        "also",
        "and",
        "or",
        "but",
        "so",
        "if",
        "when",
        "she's",
        "he's",
        "they're",
        "you",
        "your",
        "yes",
        "no",
        "ok",
        "okay",
        "dear",
        "q1",
        "q2",
        "q3",
        "q4",
        "let",
        "just",
        "happy",
        "sure",
        "great",
        "sounds",
    ]
)

_WRONG_PERSON = _rx(
    r"\bnot the (?:right|best|correct|appropriate|relevant) (?:person|contact|guy|one)\b",
    r"\bwrong (?:person|contact|guy|department|address)\b",
    r"\bno longer (?:with|at|works? (?:at|for|here)|working (?:at|for|here)|employed|part of|"
    r"in (?:this|that) role|responsible|handle|own|manage|look after|work on|deal with|cover)\b",
    r"\b(?:has )?left (?:the company|the business|the organi[sz]ation|our company|us)\b",
    r"\b(?:i|we) (?:don'?t|do not) (?:handle|deal with|own|manage|look after|make decisions on)\b",
    r"\bnot (?:my|in my) (?:area|department|remit|responsibility|decision|call|wheelhouse)\b",
    r"\b(?:isn'?t|is not|doesn'?t sit|does not sit) (?:with me|my (?:area|call|decision))\b",
    r"\bnicht (?:der|die) richtige (?:ansprechpartner(?:in)?|person)\b|\bnicht zuständig\b",
    r"\bpas (?:la bonne|le bon) (?:personne|interlocut(?:eur|rice))\b",
    r"\bno soy la persona (?:adecuada|indicada|correcta)\b|\bya no trabaja\b",
    r"\bnon sono la persona giusta\b|\bnon lavora più\b",
    r"\bnão sou a pessoa (?:certa|indicada|correta)\b|\bnão trabalha mais\b",
    r"\bniet de juiste (?:persoon|contactpersoon)\b|\bwerkt (?:hier )?niet meer\b",
)

_NOT_NOW = _rx(
    r"\bnot (?:right )?now\b|\bnot at (?:the|this) (?:moment|time|point)\b|\bnot just yet\b",
    r"\bnot this (?:quarter|year|month|season)\b|\bnot (?:a|the) (?:priority|focus) (?:right now|"
    r"at the moment|this (?:quarter|year)|until)\b",
    r"\b(?:try|ping|contact|reach out to|reach|circle back with|check back with|follow up with|"
    r"come back to|get back to|touch base with|check in with|revisit(?: this)? with) (?:me|us)\b"
    r".{0,30}\b(?:in|after|next|around|early|late|mid|once|when|towards|closer to|again in)\b",
    r"\b(?:circle|check|come) back\b.{0,30}\b(?:in|after|next|around|early|late|mid|once|when)\b",
    r"\b(?:revisit|reconnect|pick (?:this|it) (?:back )?up|talk again|touch base)\b.{0,25}\b"
    r"(?:in|after|next|around|early|late|mid|once|when)\b",
    r"\btiming (?:isn'?t|is not|is (?:just )?not) (?:right|great|ideal)\b|\bbad timing\b",
    r"\b(?:budget|hiring|spending) freeze\b|\bnext (?:budget|fiscal) (?:cycle|year)\b",
    r"\bneed (?:another|a few more|a couple (?:more|of) |more) ?(?:weeks?|days|months?|time)\b",
    r"\blet'?s (?:aim|shoot|plan|target|look) for (?:early|mid|late|the (?:end|start) of|next)\b",
    r"\bmaybe (?:later|next (?:year|quarter|month))\b|\b(?:too|really|super) (?:busy|swamped)\b",
    r"\bafter (?:the )?(?:holidays|summer|new year|launch|migration|reorg|audit)\b",
    r"\bin the new year\b|\bnext (?:quarter|year)\b|\bQ[1-4]\b",
    r"\bspäter\b|\bnächste[ns]? (?:jahr|quartal|monat)\b|\bderzeit nicht\b|\bmomentan nicht\b",
    r"\bplus tard\b|\bpas pour (?:le moment|l'instant)\b|\bl'année prochaine\b",
    r"\bmás adelante\b|\bahora no\b|\bel próximo (?:año|trimestre)\b|\bpor ahora no\b",
    r"\bpiù avanti\b|\bnon (?:ora|adesso|in questo momento)\b|\bil prossimo (?:anno|trimestre)\b",
    r"\bmais tarde\b|\bagora não\b|\bno próximo (?:ano|trimestre)\b|\bpor enquanto não\b",
    r"\blater (?:dit jaar|dit kwartaal)\b|\bvolgend (?:jaar|kwartaal)\b|\bop dit moment niet\b|"
    r"\bnu niet\b",
)
_MEETING = _rx(
    r"\b(?:set up|setup|schedule|book|arrange|organi[sz]e|have|hop on|jump on|find time for|grab)"
    r" (?:a |an |some |another )?(?:quick |short |brief |\d+[- ]min(?:ute)? )?(?:call|meeting|chat|"
    r"demo|time|walkthrough|session|zoom|teams)\b",
    r"\b(?:can|could|shall|should) we (?:\w+ )?(?:meet|talk|chat|speak|hop on|do a|schedule|"
    r"set up|book|arrange|find (?:a )?time)\b",
    r"\blet'?s (?:meet|talk|chat|speak|set up|schedule|book|find a time|do a call|get)\b",
    r"\bare you (?:free|available|around)\b|\bwhen are you (?:free|available)\b",
    r"\bsend (?:me |us |over )?(?:a |an |the )?(?:calendar |meeting |teams |zoom )?invite\b",
    r"\b(?:monday|tuesday|wednesday|thursday|friday|tomorrow|next week)\b[^.?!]{0,20}\bworks?\b",
    r"\bcalendly\b|\bmy (?:calendar|availability)\b|\byour (?:calendar|availability)\b",
    r"\bdoes (?:monday|tuesday|wednesday|thursday|friday|next week|tomorrow)\b.{0,30}\bwork\b",
    r"\b(?:works|work) for (?:me|us)\b.{0,20}\b(?:call|meeting|at \d)",
    r"\btermin\b|\btelefonat\b|\brendez-vous\b|\bun appel\b|\breuni[oó]n\b|\bllamada\b|"
    r"\briunione\b|\bchiamata\b|\breunião\b|\bafspraak\b|\bbelafspraak\b",
)
_NOT_INTERESTED = _rx(
    r"^\W*(?:lol |haha )?(?:no|nope|nah|no way|pass)\W*$",
    r"\bnot (?:really |currently |at all )?interested\b|\bno interest\b",
    r"\bstill (?:a )?no\b|\b(?:that'?s|it'?s) a no\b|\bhard pass\b",
    r"\bno,? thanks?(?: you)?\b|\bno thank you\b",
    r"\bwe'?ll pass\b|\b(?:i'?ll|we'?ll|going to) pass\b",
    r"\bpass on this\b|\bnot (?:a (?:good )?fit|for us|something we need)\b",
    r"\b(?:went|going|gone|decided to go) with (?:another|a different|someone else|an? other)\b",
    r"\bgoing (?:in )?(?:a )?different direction\b",
    r"\b(?:not|won'?t be) (?:going to )?(?:move|moving) forward\b|\bdecided (?:against|not to)\b",
    r"\bwe(?:'ve| have) (?:chosen|selected|picked|signed with) (?:another|a different|an? other)\b",
    r"\bsigned (?:up )?with (?:a|another|an|the other|someone|one of)\b",
    r"\bno need\b(?! to (?:unsubscribe|remove|worry|apologi[sz]e))",
    r"\bwe(?:'re| are) (?:all )?set\b|\bwe(?:'re| are) good\b|\bnot needed\b",
    r"\bkein(?:e)? (?:interesse|bedarf)\b|\bpas intéressée?s?\b|\bpas besoin\b",
    r"\bno (?:nos|me) interesa\b|\bno estamos interesados\b",
    r"\bnon (?:siamo|sono) interessat[io]\b|\bnon ci interessa\b",
    r"\bnão (?:temos|tenho|estamos) interess(?:e|ados?)\b|\bsem interesse\b",
    r"\bgeen interesse\b|\bgeen behoefte\b",
)
_OBJECTION = _rx(
    r"\btoo (?:expensive|pricey|costly|much|high|complex|complicated|early|small|big)\b",
    r"\b(?:price|pricing|cost|quote|rate)s? (?:is|are|seems?|looks?) (?:too |a bit |quite |way "
    r"|very )?(?:high|steep|expensive|much)\b",
    r"\b(?:over|above|exceeds?|outside) (?:our |the )?budget\b|\bno budget\b|\bbudget is tight\b",
    r"\bcan'?t justify\b|\bhard to justify\b|\bnot convinced\b|\bskeptical\b|\bsceptical\b",
    r"\b(?:concern(?:s|ed)?|worried|worry|hesitant|reservations?) (?:about|that|is|are|with)\b",
    r"\bthe (?:problem|issue|catch|challenge) is\b",
    r"\bwe already (?:have|use|work with|built|pay for)\b|\balready (?:using|working with)\b",
    r"\b(?:doesn'?t|does not|didn'?t|did not|won'?t|wouldn'?t) (?:integrate|work|scale|fit|"
    r"support)\b",
    r"\bsecurity (?:review|concerns?|questionnaire)\b|\bcompliance\b|\bsoc ?2\b",
    r"\b(?:remove|waive|drop|lower|reduce|cut) the (?:\w+ )?(?:fee|price|cost|rate)s?\b",
    r"\bcheaper\b|\blower price\b|\bdiscount\b|\bhow (?:is|are) (?:you|this|your \w+) different\b",
    r"\bzu teuer\b|\btrop cher\b|\bdemasiado caro\b|\btroppo car[oa]\b|\bmuito caro\b|"
    r"\bte duur\b|\bbudget (?:reicht|insuffisant)\b",
)
_COMMITTED = _rx(
    r"\bwhen can we (?:start|begin|kick (?:it |this )?off|get started)\b|\bexactly what we need\b",
    r"\b(?:just |have |'ve |we |i )signed (?:the|it|our|off)\b",
    r"\blet'?s (?:do it|go|proceed|move forward)\b|\bcount (?:us|me) in\b",
    r"\b(?:we'?d|i'?d|we would|i would) (?:like|love) to (?:proceed|move forward|go ahead)\b",
    r"\bsend (?:over )?(?:the |a )?(?:contract|agreement|order form|paperwork|po|invoice)\b",
    r"\b(?:ready|happy|keen|excited) to (?:proceed|sign|get started)\b|\bgo ahead\b",
    r"\bapproved (?:on our (?:end|side)|internally)\b|\b(?:got|was|been|is) approved\b",
)
_INTERESTED = _rx(
    r"\b(?:very |really |definitely |quite |still )?interested\b",
    r"\bsounds (?:good|great|interesting|promising|like a plan)\b|\blooks (?:good|great)\b",
    r"\btell me more\b|\blet'?s (?:do it|go|proceed|move forward)\b|\bcount (?:us|me) in\b",
    r"\b(?:we'?d|i'?d|we would|i would) (?:like|love) to (?:proceed|move forward|go ahead|"
    r"learn more|see|try|start)\b",
    r"\bsend (?:over )?(?:the |a )?(?:contract|agreement|order form|paperwork|po|invoice)\b",
    r"\b(?:ready|happy|keen|excited) to (?:proceed|move|go|sign|start|get started)\b",
    r"\bgo ahead\b|\bon board\b|\bwe'?re in\b|\bnos interesa\b|\b(?:approved|got|was|been|is) "
    r"approved\b|\bapproved (?:on our (?:end|side)|internally)\b",
    r"\binteressiert\b|\bintéressée?s?\b|\binteresad[oa]s?\b|\binteressat[oia]\b|"
    r"\binteressad[oa]s?\b|\bgeïnteresseerd\b|\bklingt gut\b|\bça m'intéresse\b|"
    r"\bme interesa\b|\bmi interessa\b|\bme interessa\b",
)
_QUESTION_WORDS = _rx(
    r"\b(?:what|how|which|who|when|where|why|does|do|is|are|can|could|would|will|should)\b"
    r"[^.?!]{0,150}\?",
    r"\bwie\b|\bwas\b|\bcomment\b|\bquel(?:le)?s?\b|\bcómo\b|\bqué\b|\bcome\b|\bquanto\b|"
    r"\bhoe\b|\bwat\b",
)

_FRUSTRATION = _rx(
    r"(?<!n't )(?<!not )\bstop (?:e-?mailing|emailing|spamming|contacting|messaging|sending)\b",
    r"\bspam(?:ming)?\b",
    r"\bhow many times\b|\bannoying\b|\bharass(?:ing|ment)?\b|\benough\b|!{2,}|\bseriously\b",
    r"\bwtf\b|\bleave (?:me|us) alone\b|\bunacceptable\b|\b(?:third|fourth|fifth|umpteenth) "
    r"(?:time|email)\b|\balready (?:told|said|asked)\b|\bsick of\b|\bfed up\b|\bwaste of\b",
    r"\bnervig\b|\bbelästig|\barrêtez\b|\bharcèlement\b|\bbasta\b|\bchega\b|\bbelachelijk\b",
    r"\bi never (?:signed up|asked|opted in|gave you)\b|\bhow did you get my\b",
    r"\bcease and desist\b",
    r"\boh (?:great|wonderful|joy|fantastic|perfect)\b|\byet another\b|\bgee\b|\bthanks a lot\b",
)
_WARM = _rx(
    r"\bthanks?\b|\bthank you\b|\bappreciate\b|\bgreat\b|\blove\b|\bexcited\b|\bsounds good\b",
    r"\bperfect\b|\bhappy to\b|\blooking forward\b|\bglad\b|\bkeen\b|\bawesome\b|\bwonderful\b",
    r"\bdanke\b|\bmerci\b|\bgracias\b|\bgrazie\b|\bobrigad[oa]\b|\bbedankt\b|\bgraag\b|\bgerne\b",
    r"\byes\b|\byep\b|\bloved?\b|\bexactly what\b|\bgood news\b|\bavec plaisir\b|\bbeaucoup\b",
    r"\bmucho\b|\bklingt gut\b|\bexpecting\b|\bover to you\b|\bhappy\b|!(?!!)",
)
_DEFLECTION = _rx(
    r"\bmaybe\b|\bperhaps\b|\bwe'?ll see\b|\blet me think\b|\bbusy\b|\bswamped\b|\bnot sure\b",
    r"\bnot (?:a )?priority\b|\bnot right now\b|\bcircle back\b|\bsome other time\b",
)

_WARM_INTENTS = frozenset(
    {Intent.INTERESTED, Intent.MEETING_REQUEST, Intent.REFERRAL, Intent.QUESTION}
)


# --------------------------------------------------------------------------- referral


def _first_name_in(window: str) -> tuple[str, int, int] | None:
    for match in _NAME.finditer(window):
        words: list[str] = []
        for word in match.group("name").split():
            if word.lower().strip("'’") in _NOT_NAMES:
                if words:
                    break
                continue
            words.append(word)
        if words:
            # The words as found: a name broken across lines is still one name.
            start = window.find(words[0], match.start())
            end = window.find(words[-1], start) + len(words[-1])
            return " ".join(words), start, end
    return None


_ROLE_NAME = lazy(
    r"\b(?:[Oo]ur|[Mm]y|[Tt]heir) (?:[A-Z]{2,4}|colleague|boss|manager|(?:head|director|vp) of \w+)"
    r",? (?P<name>[A-ZÀ-Þ][a-zß-ÿ'’-]+(?: [A-ZÀ-Þ][a-zß-ÿ'’-]+){1,2})"
)
_NAME_BEFORE_CUE = lazy(
    r"(?P<name>[A-ZÀ-Þ][a-zß-ÿ'’-]+(?:\s+[A-ZÀ-Þ][a-zß-ÿ'’-]+)?)\s+(?:\([^)]*\)\s+)?"
    r"(?:handles|owns|is responsible for|is in charge of|looks after|runs|manages|leads|"
    r"(?:is|would be) the (?:right|best|correct) (?:person|contact))\b"
)


def _with_address(name: str, text: str) -> str:
    first = name.split()[0].lower()
    for email in _EMAIL.findall(text):
        if first in email.lower().split("@")[0]:
            return f"{name} <{email}>"
    return name


def extract_referral(text: str) -> str | None:
    """The person a reply points to ("talk to Sam Ortiz (sam@globex.example)")."""
    address_only: str | None = None
    for cue in _REFERRAL_CUE.finditer(text):
        window = text[cue.end() : cue.end() + 80]
        found = _first_name_in(window)
        email = _EMAIL.search(window)
        if found and email and 0 <= email.start() - found[2] < 8:
            return f"{found[0]} <{email.group(0)}>"
        if found and (email is None or found[1] < email.start()):
            return found[0]
        if email and address_only is None:
            address_only = email.group(0)
    for pattern in (_ROLE_NAME, _NAME_BEFORE_CUE):
        match = pattern.search(text)
        if match and match.group("name").split()[0].lower() not in _NOT_NAMES:
            return _with_address(match.group("name"), text)
    return address_only


# --------------------------------------------------------------------------- classify


def _sentiment(text: str, intent: Intent, frustrated: bool) -> Sentiment:
    if frustrated:
        return Sentiment.FRUSTRATION
    if intent in (Intent.BOUNCE, Intent.OUT_OF_OFFICE):
        return Sentiment.NEUTRAL
    if intent is Intent.NOT_NOW:
        return Sentiment.DEFLECTION
    if intent in _WARM_INTENTS and _WARM.search(text):
        return Sentiment.WARM
    if intent is Intent.INTERESTED and len(text.split()) > 8:
        return Sentiment.WARM
    if intent in (Intent.OTHER, Intent.OBJECTION, Intent.QUESTION) and _DEFLECTION.search(text):
        return Sentiment.DEFLECTION
    return Sentiment.NEUTRAL


def _heuristic_intent(text: str) -> tuple[Intent, str]:
    """Keyword rules for what the model would otherwise decide; the first match wins."""
    referral = extract_referral(text)
    wrong = _WRONG_PERSON.search(text)
    if wrong:
        return (Intent.REFERRAL if referral else Intent.WRONG_PERSON), wrong.group(0)
    if referral:
        return Intent.REFERRAL, referral
    not_now = _NOT_NOW.search(text)
    if not_now and not re.search(r"\b(?:or ever|at all|this year or next)\b", text, re.I):
        return Intent.NOT_NOW, not_now.group(0)
    for intent, pattern in (
        (Intent.MEETING_REQUEST, _MEETING),
        (Intent.NOT_INTERESTED, _NOT_INTERESTED),
        (Intent.OBJECTION, _OBJECTION),
        (Intent.INTERESTED, _COMMITTED),
    ):
        match = pattern.search(text)
        if match:
            return intent, match.group(0)
    if "?" in text and _QUESTION_WORDS.search(text):
        keen = re.search(
            r"\b(?:still|very|really|definitely) interested\b|\bnext steps\b", text, re.I
        )
        if keen and not re.search(r"\bnot (?:\w+ )?interested\b", text, re.I):
            return Intent.INTERESTED, keen.group(0)
        return Intent.QUESTION, "?"
    match = _INTERESTED.search(text)
    if match:
        return Intent.INTERESTED, match.group(0)
    return Intent.OTHER, ""


@dataclass(frozen=True, slots=True)
class IntentReading:
    intent: Intent
    sentiment: Sentiment
    resume_on: date | None = None
    referral: str | None = None
    why: str = ""
    open: bool = False  # the rules could not tell: the model, when configured, may


def injection_in(text: str) -> str | None:
    """Words that try to instruct an AI system or this one, if any."""
    found = _INJECTION.search(text)
    return found.group(0) if found else None


def frustrated(text: str) -> bool:
    return bool(_FRUSTRATION.search(text))


def intent_by_rules(text: str, *, sent: datetime) -> IntentReading:
    """What a person's reply wants, by rules; `open` when the rules leave it undecided."""
    intent, why = _heuristic_intent(text)
    confidence = 1.0 if intent is not Intent.OTHER else 0.0
    # When the rules leave the intent open (`Intent.OTHER`), the statistical model shipped in
    # the package (`reading.intent_model`) is asked, and a confident answer taken. The reading
    # stays `open`: a model server, when configured, still settles it (once).
    left_open = confidence < 0.5
    if intent is Intent.OTHER:
        intent, confidence, why = _statistical(text, intent, confidence, why)
    # ----------------------------------------------------------------------------------------
    return IntentReading(
        intent=intent,
        sentiment=_sentiment(text, intent, frustrated(text)),
        resume_on=extract_resume_date(text, sent) if intent is Intent.NOT_NOW else None,
        referral=extract_referral(text)
        if intent in (Intent.REFERRAL, Intent.WRONG_PERSON)
        else None,
        why=why,
        open=left_open,
    )


# The statistical model's answer is taken from this confidence on (bench/intent_model.py).
STATISTICAL_CONFIDENCE = 0.5


def _statistical(
    text: str, intent: Intent, confidence: float, why: str
) -> tuple[Intent, float, str]:
    """The character n-gram model's say on what the rules left open. It never decides what
    must be certain (an opt-out, a bounce, an out-of-office): those stay with the rules."""
    from reading.intent_model import predict

    label, probability = predict(text)
    if probability < STATISTICAL_CONFIDENCE or label not in Intent.__members__.values():
        return intent, confidence, why
    said = Intent(label)
    if said in _RULES_ONLY:
        return intent, confidence, why
    return said, probability, f"statistical model ({probability:.2f})"


# --------------------------------------------------------------------------- the model's say


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    """What the model server answered for one reply (prompts/reply_model.py asks it)."""

    intent: Intent
    sentiment: Sentiment
    injection_suspected: bool = False
    resume_date: str | None = None  # as written in the reply, e.g. "Q2", "after March 3"
    referral: str | None = None


# What the model may not decide: the rules settle these (and certainty matters).
_RULES_ONLY = frozenset({Intent.OPT_OUT, Intent.BOUNCE, Intent.OUT_OF_OFFICE})


def with_model_answer(reading: Reading, answer: ModelAnswer) -> Reading:
    """The model's answer merged into a human reply's reading: intent, sentiment, date and
    referral for what the rules left open; injection is the OR of both. The model never
    makes (or unmakes) an opt-out, a bounce or an out-of-office: an opt-out it reads is a
    "Check first" for a person."""
    sent = reading.sent_at or datetime.min.replace(tzinfo=UTC)
    text = reading.visible_text or ""
    injection = reading.injection_suspected or answer.injection_suspected
    if answer.intent in _RULES_ONLY:
        check = answer.intent is Intent.OPT_OUT and reading.opt_out is OptOut.NONE
        return replace(
            reading,
            injection_suspected=injection,
            opt_out=OptOut.CHECK if check else reading.opt_out,
            source="model",
            open=False,
        )
    resume: date | None = None
    if answer.intent is Intent.NOT_NOW:
        resume = extract_resume_date(answer.resume_date, sent) if answer.resume_date else None
        resume = resume or extract_resume_date(text, sent)
    referral: str | None = None
    if answer.intent in (Intent.REFERRAL, Intent.WRONG_PERSON):
        referral = answer.referral or extract_referral(text)
    return replace(
        reading,
        intent=answer.intent,
        sentiment=answer.sentiment,
        injection_suspected=injection,
        resume_on=resume,
        referral=referral,
        source="model",
        open=False,
    )
