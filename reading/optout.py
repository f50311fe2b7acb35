"""One opt-out and complaint detector."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Final

from reading._rx import lazy
from reading._rx import rx as _rx
from reading.dsn import _delivery_status_text, _header_block_fields
from reading.mime import (
    _EMAIL,
    _REPLY_PREFIX_RE,
    ParsedMessage,
    _addresses,
    _clean,
    _content_type,
    _decode_header_value,
    _embedded_headers,
    _walk,
    normalize_address,
)
from triggers.reading import OptOut

# --------------------------------------------------------------------------------------------
# Opt-outs and complaints
# --------------------------------------------------------------------------------------------

_OPT_OUT_RE: Final = lazy(
    r"\bunsubscribe\b|\bremove me\b|\btake me off\b|\bopt[- ]?out\b|"
    r"\bstop (?:e-?mailing|emailing|sending|contacting|writing to|messaging|spamming) me\b|"
    r"\b(?:do not|don't|dont|please don't|never) (?:e-?mail|contact|write to|message) me\b|"
    r"\bremove (?:my (?:e-?mail|address|name)|us) from\b|\bno (?:more|further) e-?mails?\b|"
    r"\bnot interested,? (?:please )?remove\b|"
    # de
    r"\babmelden\b|\babbestellen\b|\baustragen\b|\btragen sie mich\b|"
    r"\bbitte (?:entfernen sie mich|löschen sie mich|keine (?:weiteren )?(?:e-?mails|nachrichten))|"
    r"\bkeine (?:weiteren )?(?:e-?mails|werbung|nachrichten) mehr\b|"
    r"\b(?:kontaktieren|schreiben|anschreiben) sie mich (?:bitte )?nicht mehr\b|"
    r"\baus (?:ihrem|dem) verteiler\b|"
    # fr
    r"\bd[ée]sabonner\b|\bd[ée]sinscri|\bd[ée]sabonnement\b|\bretirez[- ]moi\b|"
    r"\bsupprimez[- ]moi\b|\bne (?:me )?(?:contactez|[ée]crivez) plus\b|"
    r"\bne plus (?:recevoir|[êe]tre contact)|\barr[êe]tez de m'(?:envoyer|[ée]crire|contacter)\b|"
    # es
    r"\bdar(?:me)? de baja\b|\bdarse de baja\b|\bbaja de (?:la|su) lista\b|"
    r"\bcancelar (?:la )?suscripci[óo]n\b|\bno me (?:env[íi]en|escriban|contacten) m[áa]s\b|"
    r"\bdejen de (?:enviarme|escribirme|contactarme)\b|\belim[íi]n(?:enme|ame|arme) de\b|"
    r"\bno quiero recibir\b|"
    # it
    r"\bcancellami\b|\bdisiscri|\brimuovetemi\b|\brimuovermi\b|"
    r"\bannulla(?:re)? (?:l')?iscrizione\b|"
    r"\bnon (?:voglio|desidero) (?:più )?ricevere\b|\bsmettete di (?:inviarmi|scrivermi|"
    r"contattarmi)\b|\bnon contattatemi più\b|"
    # pt
    r"\bdescadastr|\bcancelar (?:a )?inscri[çc][ãa]o\b|\bremova-me\b|\bme remova\b|"
    r"\bremover meu (?:e-?mail|endere[çc]o)\b|\bparem de me (?:enviar|contatar|mandar)\b|"
    r"\bn[ãa]o quero (?:mais )?receber\b|"
    # nl
    r"\bafmelden\b|\buitschrijven\b|\bverwijder (?:mij|me)\b|\bstop met (?:mailen|e-?mailen)\b|"
    r"\bgeen (?:e-?mails|mails|berichten) meer\b|\bniet meer (?:mailen|benaderen|contacteren)\b",
    re.IGNORECASE,
)
# Footers of newsletters ("to unsubscribe, click here") are instructions, not requests.
_OPT_OUT_INSTRUCTION_RE: Final = lazy(
    r"\b(?:to|if you (?:wish|want|would like) to|you (?:can|may))\s+(?:\w+\s+){0,3}"
    r"(?:unsubscribe|opt[- ]?out|be removed)|click|link|here\b|https?://|"
    r"\bum sich abzumelden\b|\bpour vous d[ée]sabonner\b|\bpara darse de baja\b|"
    r"\bper disiscriverti\b|\bpara (?:se )?descadastrar\b|\bom je af te melden\b",
    re.IGNORECASE,
)


def _opt_out_phrase(subject: str, text: str) -> str | None:
    """The opt-out request in a subject or in the new text of a reply, if there is one."""
    subject_clean = _REPLY_PREFIX_RE.sub("", subject)
    found = _OPT_OUT_RE.search(subject_clean)
    if found and not _OPT_OUT_INSTRUCTION_RE.search(subject_clean):
        return found.group(0)
    head = text[:1500]
    for sentence in re.split(r"(?<=[.!?])\s+|\n", head):
        found = _OPT_OUT_RE.search(sentence)
        if found and not _OPT_OUT_INSTRUCTION_RE.search(sentence):
            return found.group(0)
    return None


def _complaint(parsed: ParsedMessage) -> tuple[bool, str | None, list[str]]:
    """An abuse report: ARF (RFC 5965) or Hotmail's JMRP format; (is one, feedback type, who
    complained: Original-Rcpt-To / Removal-Recipient, else the reported message's To)."""
    msg = parsed.message
    complainants: list[str] = []
    try:
        report_type = str(msg.get_param("report-type") or "").lower()
    except Exception:
        report_type = ""
    feedback_type: str | None = None
    is_report = _content_type(msg) == "multipart/report" and report_type == "feedback-report"
    for part in _walk(msg, stop_at_messages=True):
        if _content_type(part) == "message/feedback-report":
            is_report = True
            text = _delivery_status_text(part)
            for group in _header_block_fields(text):
                if "feedback-type" in group and feedback_type is None:
                    feedback_type = _clean(group["feedback-type"], 40).lower() or None
            for found in re.finditer(
                r"^(?:Original-Rcpt-To|Removal-Recipient):\s*(.+)$", text, re.I | re.M
            ):
                address = normalize_address(found.group(1))
                if address and address not in complainants:
                    complainants.append(address)
    originals = _embedded_headers(msg)
    if is_report:
        if not complainants:
            for original in originals:
                for address in _addresses([_decode_header_value(original.get("To", ""))]):
                    if address not in complainants:
                        complainants.append(address)
        return True, feedback_type, complainants
    # Hotmail/Outlook.com JMRP: the complained-about message with X-HmXmrOriginalRecipient.
    for headers in (parsed.message, *originals):
        value = headers.get("X-HmXmrOriginalRecipient")
        if value is not None:
            address = normalize_address(_decode_header_value(value))
            return True, "abuse", [address] if address else []
    return False, None, []


_STOP_GAP = (
    r"sending|send|all|the|these|those|this|your|any|further|automated|marketing|sales|cold|"
    r"constant|of|me|us|to|with|please|kindly|just|now|bloody|fucking|damn"
)

_OPT_OUT = _rx(
    # en
    r"^\W*(?:unsubscribe|stop|remove|opt[ -]?out)\W*$",
    r"\bunsubscribe (?:me|us)\b",
    r"\b(?:please|pls|kindly|i want to|i'd like to|i would like to|how do i|how can i|let me) "
    r"(?:\w+ )?unsubscribe\b",
    r"\bunsubscribe\W*(?:please|thanks|thank you)?\W*$",
    r"\b(?:remove|delete|drop|take|strike|scrub) (?:me|us|my (?:e-?mail|address|details|name|data"
    r"|contact(?: details)?)|this (?:e-?mail|address)|our (?:e-?mails?|addresses|details))"
    r" (?:off|from) (?:of )?(?:your |the |this |all |any |these |our )?(?:mailing |e-?mail |"
    r"distribution |contact |marketing |sales )?(?:lists?|e-?mails|database|sequences?|"
    r"cadences?|crm|system|records|files|outreach)\b",
    r"\b(?:remove|delete|erase|forget) (?:all )?(?:of )?my (?:e-?mail|address|personal data|data"
    r"|details|contact (?:details|info(?:rmation)?)|information)\b",
    r"\b(?:take|get|remove|drop|delete|strike|scrub|cross) (?:me|us|my (?:name|e-?mail|address|"
    r"details|contact(?: details)?|info(?:rmation)?|data)|this (?:e-?mail|address)|our "
    r"(?:names?|e-?mails?|addresses|details)) (?:off|from|out of) (?:of )?(?:\S+ ){0,3}?"
    r"(?:lists?|e-?mails|database|sequences?|cadences?|crm|system|records|files|outreach|"
    r"mailings?|newsletters?)\b",
    r"\b(?:stop|cease|quit) (?:e-?mailing|emailing|contacting|messaging|writing to|spamming|"
    r"reaching out to|pinging)\b",
    r"\b(?:stop|cease|quit) sending (?:me|us) (?:e-?mails?|messages?|mails?|these|this|stuff|"
    r"spam|any ?more|things)\b|\bstop sending (?:me|us)\W*$",
    r"\bstop (?:all )?(?:the |these |your )?(?:e-?mails|messages|follow[- ]ups)\b",
    r"\b(?:do not|don'?t|never|not to) (?:ever )?(?:e-?mail|contact|write to|message|reach out to|"
    r"call|send me|send us|bother me|bother us)(?: (?:me|us|this (?:e-?mail )?address|here|again))?"
    r"(?: (?:again|any ?more|in the future|further))\b",
    r"\b(?:do not|don'?t|never|not to) (?:ever )?(?:e-?mail|contact|write to|message|reach out to|"
    r"call) (?:me|us|this (?:e-?mail )?address)\b(?! (?:before|until|till|unless|on|at|about))",
    r"\bcease (?:all )?(?:further )?(?:communications?|contact|e-?mails|outreach)\b",
    r"\bno (?:further|more) communications?\b",
    r"\bno (?:more|further) (?:e-?mails|emails|messages|contact|follow[- ]ups|outreach)\b",
    r"\bopt(?:ing)? (?:me |us )?out\b",
    r"\b(?:i|we)(?:'d| would) (?:prefer|rather|like) not to (?:receive|get|be contacted|hear)",
    r"\bprefer not to (?:receive|get|be contacted)\b",
    r"\bnot (?:to|be) (?:contacted|e-?mailed) (?:again|any ?more|further)\b",
    r"\bleave (?:me|us) alone\b",
    r"\bplease don'?t (?:follow up|reach out|contact)",
    r"\b(?:don'?t|do not) (?:follow up|reach out)(?: again| any ?more)?\b",
    r"\bcease and desist\b",
    r"(?:^|[.!?]\s+)(?:please|pls|kindly|just|so)?\s*stop(?: it| this| now| already)?[.!]*\s*"
    r"(?:thanks?|thank you)?[.!]*\s*$",
    rf"\b(?:stop|cease|quit|halt)\b(?:\s+(?:{_STOP_GAP})){{0,3}}?\s+(?:e-?mail\w*|contact\w*|messag\w*|"
    r"writing|reaching out|follow[- ]?ups?|spamm?\w*|pinging|calling)\b",
    r"\b(?:not|don'?t|do not|never)(?!\s+(?:hesitate|forget|worry))(?:\s+\S+){0,2}?\s+"
    r"(?:e-?mail|contact|message|write|reach out|send|call)\w*\b[^.?!]{0,40}?\b(?:again|any ?more"
    r"|in (?:the )?future|further)\b",
    r"\b(?:remove|delete|erase|drop|take|strike|scrub|purge|wipe)\b(?:\s+\S+){0,3}?\s+(?:me|us|my|"
    r"our)\b[^.?!]{0,50}?\b(?:list|lists|database|mailings?|distribution|sequence|crm|records)\b",
    r"\bunder gdpr\b.*\b(?:delete|erase|remove)\b|\b(?:delete|erase|remove)\b.*\bunder gdpr\b",
    # de
    r"\babmelden\b|\bmelden sie mich ab\b|\baustragen\b|\btragen sie mich aus\b",
    r"\b(?:entfernen|streichen|löschen|nehmen) sie (?:bitte )?"
    r"(?:mich|meine (?:e-?mail|adresse|daten))",
    r"\bmich (?:bitte )?nicht (?:mehr |erneut |wieder )(?:kontaktieren|anschreiben|anrufen)\b",
    r"\b(?:kontaktieren|schreiben|mailen|anrufen) sie mich (?:bitte )?nicht "
    r"(?:mehr|erneut|wieder)\b",
    r"\bsenden sie mir keine\b|\bmeine daten (?:bitte )?löschen\b",
    r"\bkeine (?:weiteren |e-?mails |mails |nachrichten )*(?:e-?mails|mails|nachrichten|"
    r"kontaktaufnahmen?|werbung) mehr\b",
    r"\b(?:kontaktieren|schreiben|anschreiben) sie mich (?:bitte )?nicht mehr\b",
    r"\bnicht mehr (?:kontaktieren|anschreiben|anrufen)\b",
    r"\bwiderspreche\b",
    # fr
    r"\bdésinscri(?:re|vez|ption|s-moi)\b|\bdésabonne(?:r|z|ment)\b|\bme désabonner\b",
    r"\bretirez[- ](?:moi|mon adresse)\b",
    r"\bsupprimez[- ](?:moi|mon adresse|mes (?:données|coordonnées))",
    r"\bne (?:plus|pas) me (?:contacter|recontacter|écrire|solliciter)\b",
    r"\bne plus m'(?:envoyer|écrire|adresser)\b|\bne m'(?:envoyez|écrivez) plus\b",
    r"\bne me (?:contactez|recontactez|écrivez|sollicitez) plus\b",
    r"\bne (?:\w+ )?plus (?:\w+ )?(?:recevoir|me contacter|m'écrire|m'envoyer)\b",
    r"\b(?:veuillez|merci de|pouvez-vous) me (?:retirer|supprimer|désinscrire|radier|désabonner)\b",
    # es
    r"\b(?:darme|dame|darse|denme|deme) de baja\b|\bbaja de (?:su|tu|la) lista\b",
    r"\bno me (?:vuelva[ns]? a )?(?:contacte[ns]?|escriba[ns]?|env[ií]e[ns]?)(?: más)?\b",
    r"\bno me vuelva[ns]? a (?:escribir|contactar|enviar|llamar)\b",
    r"\b(?:elimin|borr|quit)(?:a|e|en|ar)(?:me)? (?:de (?:su|tu|la|vuestra) lista|mis datos)\b",
    r"\bquítenme\b|\bquítame\b|\bno (?:quiero|deseo) (?:seguir )?recibir\b",
    r"\bdej(?:en|e|a) de (?:enviarme|escribirme|contactarme|mandarme)\b",
    # it
    r"\bcancellatemi\b|\bcancellami\b|\bcancellarmi\b|\bdisiscri(?:vermi|zione|vetemi)\b",
    r"\brimuove(?:temi|rmi|te il mio)\b|\btoglietemi\b",
    r"\bnon (?:mi )?(?:contattatemi|contattate|contatti|scrivetemi|scriva|scrivete) più\b",
    r"\bnon (?:voglio|desidero) (?:più )?ricevere\b",
    r"\bsmett(?:ete|a|etela)(?:la)? di (?:scrivermi|inviarmi|contattarmi|mandarmi)\b",
    # pt
    r"\bdescadastr(?:ar|e|em|o)\b|\bcancelar (?:a )?(?:minha )?inscrição\b",
    r"\b(?:remova|removam|retire|tire)[- ](?:me|o meu|meu)\b|\bme (?:remova|removam|tire)\b",
    r"\bnão (?:me )?(?:contate[m]?|contacte[m]?|envie[m]?|escreva[m]?|mande[m]?) mais\b",
    r"\bnão (?:quero|desejo) (?:mais )?receber\b|\bparar de receber\b",
    r"\bpar(?:em|e) de (?:me )?(?:enviar|mandar|contatar|contactar|escrever)\b",
    # nl
    r"\bafmelden\b|\buitschrijven\b|\bschrijf (?:me|mij|ons) uit\b",
    r"\bverwijder (?:me|mij|ons|mijn (?:e-?mail|adres|gegevens))\b",
    r"\bhaal (?:me|mij|ons) (?:van|uit)\b",
    r"\bgeen (?:e-?mails|mails|berichten|contact) meer\b",
    r"\bniet meer (?:mailen|benaderen|contacteren|e-?mailen)\b",
    r"\b(?:e-?mailadres|gegevens|adres) (?:\w+ )?verwijderen\b|\bstop met (?:mailen|e-?mailen)\b",
    r"\b(?:verwijder|verwijderen|schrap|haal)\b[^.?!]{0,40}\b(?:mailinglijst|lijst|bestand)\b",
)
_OPT_OUT_NEGATION = lazy(
    r"(?:\b(?:don'?t|do not|no need to|not asking (?:you )?to|didn'?t mean to|"
    r"wasn'?t trying to|never asked to|not trying to)\s+(?:\w+\s+){0,2})$",
    re.IGNORECASE,
)


_W = r"[\w'’-]*"
_REMOVAL = (
    r"remov|delet|eras|purg|scrub|strike|cancel|enlev|entfern|lösch|streich|austrag|supprim|retir|radi[ée]|"
    r"radier|elimin|borr|quit[aeá]|sác|sáq|saq|sac[aá]|rimuov|rimoss|cancell|togli|tolga|exclu|apag|verwijder|"
    r"schrap|uitschrij|uitgeschreven|désinscri|desinscri|désabonn|disiscri|descadastr|afmeld|"
    r"abmeld|ausgetragen|opt[- ]?out|unsubscribe(?!d)|uitschrijv"
)
_STRONG_REMOVAL = (
    r"unsubscribe(?!d)|opt[- ]?out|abmeld|austrag|ausgetragen|désinscri|desinscri|désabonn|"
    r"disiscri|descadastr|afmeld|uitschrij|uitgeschreven|uitschrijv|d[aeé]\w* de baja|"
    r"solicit\w* (?:la )?baja|baja de (?:la|su|tu|vuestra|sus) (?:lista|base)"
)
_TARGET = (
    r"list|lists|liste|listes|lista|listas|lijst|mailing|verteiler|distribution|database|"
    r"datenbank|base de (?:datos|données|dados)|banco de dados|crm|records|bestand|fichier|"
    r"contact ?list|kontaktliste|sequence|newsletter|cadence|outreach|mailinglist|"
    r"subscriptions?|abonnements?|suscripci[oó]n|iscrizione|assinatura|inschrijving|"
    r"\w+(?:lijst|liste|verteiler)"
)
_SELF = (
    r"me|my|us|our|mich|mir|meine[nrms]?|moi|mon|mes|m'|mi|mis|mio|miei|mia|meu|meus|minha|"
    r"mij|mijn|ons|onze|-me|-moi|me\b|-nos|nos"
)
_CONTACT_VERB = (
    r"e-?mail|mail|contact|contatt|contat|kontakt|messag|nachricht|writ|schreib|écri|escrib|scriv|escrev|"
    r"relanc|recontact|envoy|envi[aá]|invia|mand|stuur|sturen|schick|send|sending|call|anruf|"
    r"bother|"
    r"reach(?:ing)? out|follow(?:ing)?[- ]?up|pinging|spamm"
)
_STOP_WORD = (
    r"stop|cease|refrain|quit|halt|aufhör|hören sie auf|arrêt|cess|dej[ae]n? de|deja de|smett|"
    r"par[ea]m? de|stop met|stopp"
)
_NEGATION = (
    r"not|don'?t|do not|never|nicht|nichts|keine[nr]?|kein|ne|n'|non|não|nao|niet|niets|geen|no|"
    r"nothing|rien|nada|niente|nulla"
)
_MORE = (
    r"again|any ?more|further|going forward|in (?:the )?future|mehr|erneut|wieder|weiteren|"
    r"plus|más|mas|più|mais|meer|ulterior\w*|nunca|longer|weiter|länger|langer|verdere|"
    r"weitere[nrs]?"
)
_LEX_SELF_TARGET = lazy(
    rf"(?:\b(?:{_REMOVAL}){_W}).{{0,60}}?(?:(?<![\w])(?:{_SELF})\b).{{0,50}}?\b(?:{_TARGET})\b"
    rf"|(?:(?<![\w])(?:{_SELF})\b).{{0,50}}?\b(?:{_TARGET})\b.{{0,40}}?\b(?:{_REMOVAL}){_W}"
    rf"|\b(?:{_REMOVAL}){_W}.{{0,40}}?\b(?:{_TARGET})\b"
    rf"|\b(?:aus|von|de|uit|van|dalla|da)\s+(?:\w+\s+)?(?:{_TARGET})\b.{{0,15}}?\b(?:{_REMOVAL}){_W}",
    re.IGNORECASE,
)
_LEX_REMOVE_ME = lazy(
    rf"(?:\b(?:{_REMOVAL}){_W}(?:-?(?:me|moi|nos|mi))?\b\s*(?:me|us|mich|moi|mij|ons"
    rf"|my (?:e-?mail|address|data|details|info\w*|contact\w*)|mon adresse|mes (?:données|"
    rf"coordonnées)|meine (?:daten|adresse|e-?mail\w*)|mijn (?:gegevens|adres|e-?mail\w*))\b)"
    rf"|\b(?:elimínenme|elimíname|elimineme|bórrenme|quítenme|rimuovetemi|cancellatemi|"
    rf"removam-me|remova-me|excluam-me)\b"
    rf"|\b(?:ser|worden|werden|être|essere|be) (?:\w+ )?(?:{_REMOVAL}){_W}"
    rf"|\b(?:my|this) (?:e-?mail|address|data|details|number)\b.{{0,40}}?\b(?:delete|remove|"
    rf"erase|wipe|scrub|bin|trash|forget) it\b"
    rf"|\b(?:{_REMOVAL}){_W}\s+(?:\w+\s+){{0,2}}?(?:(?:il |o )?(?:mio|mia|miei|meu|meus|minha)|"
    rf"mis?|mon|mes|meine[nm]?|mijn)\s+(?:contatto|contatti|indirizzo|nominativo|dati|contato|"
    rf"endereço|e-?mail|dados|contacto|correo|dirección|datos|coordonnées|adresse|données|"
    rf"kontakt\w*|daten|gegevens|adres)\b",
    re.IGNORECASE,
)
_LEX_STRONG = lazy(rf"\b(?:{_STRONG_REMOVAL}){_W}", re.IGNORECASE)
_LEX_STOP_CONTACT = lazy(
    rf"\b(?:{_STOP_WORD}){_W}\s+(?:(?:{_STOP_GAP}|{_SELF}|de|di|met)\s+){{0,3}}?(?:{_CONTACT_VERB}){_W}"
    rf"(?:\s+(?:me|us|mir|moi))?(?=\s*(?:[.,;!?)]|$|\s+(?:emails?|messages?|mails?|these|this|"
    rf"anything|stuff|things|any ?more|again|please|thanks|now|already|going forward|or|and|"
    rf"about|with)))",
    re.IGNORECASE,
)
_LEX_NEG_CONTACT_MORE = lazy(
    rf"(?<![\w])(?:{_NEGATION})\b(?!\s+(?:hesitate|forget|worry|stop|need to stop))"
    rf"[^.?!]{{0,40}}?\b(?:{_CONTACT_VERB}){_W}[^.?!]{{0,40}}?\b(?:{_MORE})\b"
    rf"|(?<![\w])(?:{_NEGATION})\s+(?:{_MORE})\s+(?:{_CONTACT_VERB})"
    rf"|\brefrain\w* from (?:\w+ )?(?:{_CONTACT_VERB})",
    re.IGNORECASE,
)
_LEXICAL_OPT_OUT = (
    _LEX_STRONG,
    _LEX_SELF_TARGET,
    _LEX_REMOVE_ME,
    _LEX_STOP_CONTACT,
    _LEX_NEG_CONTACT_MORE,
)
_LEX_VETO = lazy(
    r"\b(?:by (?:accident|mistake)|add (?:me|us) back|re-?subscribe|keep (?:me|us) (?:on|in)|"
    r"(?:don'?t|do not|please don'?t|no need to|not asking (?:you )?to) (?:\w+ ){0,2}?"
    r"(?:unsubscribe|remove|take (?:me|us) off|stop))\b",
    re.IGNORECASE,
)


# Opt-out families the phrase list above missed: a terse removal with no object ("Take me
# off."), wanting no more mail ("I don't want any more emails", "ich möchte nicht weiter
# kontaktiert werden"), a stop verb with a clitic pronoun in the Romance languages and German
# ("arrêtez de m'envoyer", "hören Sie auf, mir zu schreiben"), erasure of personal data,
# throwing the address away ("lose my address"), and do-not-contact as a status.
_FAMILY_OPT_OUT = (
    lazy(
        r"\b(?:take|get|remove|drop|delete|strike|cross|scrub|knock)\s+(?:me|us|my name|my "
        r"(?:e-?mail|address|details))(?:\s+(?:off|out))?(?=\s*(?:[.!;]|$|,?\s*(?:please|pls|now|"
        r"thanks?|thank you|asap|already)\b))",
        re.IGNORECASE,
    ),
    lazy(
        rf"(?<![\w])(?:{_NEGATION})\s+(?:[\w'’-]+\s+){{0,2}}?(?:{_MORE})\s+(?:[\w'’-]+\s+)"
        rf"{{0,2}}?(?:{_CONTACT_VERB}|correos?|berichten|nachrichten|mensagens|messaggi|receiv|"
        rf"recib|recev|ricev|receb|ontvang|erhalt|bekomm|angeschrieben|angerufen|angemailt)",
        re.IGNORECASE,
    ),
    lazy(
        r"\b(?:arrêt|cess)\w*\s+(?:donc\s+)?de\s+(?:m'|me\s+|nous\s+)(?:envoy|écri|contact|"
        r"relanc|sollicit|spamm|harcel)\w*|\bh[öo]r(?:en|t|e)? (?:sie |doch )?(?:bitte |endlich )?"
        r"auf\b[^.?!]{0,30}?\b\w*(?:schreiben|kontaktieren|mailen|senden|schicken|rufen)\b|"
        r"\baufhören\b[^.?!]{0,30}?\b(?:zu )?(?:schreiben|kontaktieren|mailen|senden|schicken)\b|"
        r"\bdej\w*\s+de\s+(?:enviar|escrib|contact|mand|llam|molest)\w*|"
        r"\bsmett\w*\s+di\s+(?:\w+\s+)?(?:scriv|invia|contatt|mand|chiam|disturb)\w*|"
        r"\bpar[ea]m?\s+de\s+(?:me\s+)?(?:envi|mand|contat|contact|escrev|ligar)\w*|"
        r"\bstop\s+(?:\w+\s+)?met\s+(?:\w+\s+){0,2}?(?:mail|e-?mail|sturen|bellen|benaderen)\w*|"
        r"\bno me (?:manden|mandes|mande|envíen|envíe|escriban|escribas|contacten) más\b",
        re.IGNORECASE,
    ),
    lazy(  # a removal verb alone ends the reply: "No longer interested - please remove."
        r"\b(?:please |pls |kindly )?(?:remove|unsubscribe|delete|opt out|take me off)\W*$",
        re.IGNORECASE,
    ),
    lazy(  # "cesser tout envoi", "keine Zusendungen mehr": sending as a noun
        r"\b(?:cess|arrêt|stopp)\w*\s+(?:tout(?:e|es|s)?\s+|les\s+|vos\s+)?(?:envois?|"
        r"sollicitations?|relances?|communications?)\b|\bkeine (?:weiteren )?zusendungen\b",
        re.IGNORECASE,
    ),
    lazy(  # "schicken Sie mir nichts mehr", "send me nothing more"
        rf"\b(?:{_CONTACT_VERB})\w*\s+(?:[\w'’-]+\s+){{0,3}}?(?:nothing|nichts|niets|nada|niente|"
        rf"rien) (?:more|further|mehr|meer|más|più|plus|mais)\b",
        re.IGNORECASE,
    ),
    lazy(  # "not interested in receiving sales emails", "no longer wish to be contacted"
        r"\b(?:not|no longer) (?:interested in|keen on|wanting|want|wish(?:ing)?) (?:to )?"
        r"(?:receiv\w*|getting|hearing|be(?:ing)? (?:contacted|e-?mailed|called))\b",
        re.IGNORECASE,
    ),
    lazy(  # "can I get off this list?", "stop the sequence", "this is spam"
        r"\b(?:get|be|been|taken) off (?:this|your|the|these|all|any) (?:\w+ )?(?:lists?|"
        r"sequences?|mailings?|campaigns?)\b|\b(?:stop|end|cancel|close out|kill) (?:the|this|"
        r"your|my) (?:e-?mail |sales |automated )?(?:sequence|cadence|campaign|drip|automation|"
        r"outreach)\b|\b(?:this is|that'?s|it'?s|pure|total|more|yet more) spam\b|\breport(?:ed|"
        r"ing)? (?:you |this |it )?(?:as|for) spam\b",
        re.IGNORECASE,
    ),
    lazy(
        r"\b(?:stop|cease|quit)\s+(?:receiv\w*|getting (?:these|your|any|e-?mails|messages))|"
        r"\bstop aux (?:relances|mails|e-?mails|messages|sollicitations|envois)\b|"
        r"\bvan\s+(?:\w+\s+){0,2}?\w*(?:lijst|bestand)\s+af\b|\bhaal (?:me|mij|ons) eraf\b",
        re.IGNORECASE,
    ),
    lazy(
        r"\b(?:erase|delete|remove|purge|wipe|destroy)\b[^.?!]{0,30}?\b(?:personal data|"
        r"(?:my|our) (?:personal )?(?:data|information)|data you (?:hold|have|store))\b|"
        r"\bright to (?:erasure|be forgotten)\b|\brecht auf löschung\b|\bdroit à l'effacement\b|"
        r"\bderecho de supresión\b|\bdiritto all'oblio\b|\bdireito ao esquecimento\b|"
        r"\brecht op vergetelheid\b",
        re.IGNORECASE,
    ),
    lazy(
        r"\b(?:lose|forget|bin|trash|burn|shred|ditch)\s+(?:my|our)\s+(?:e-?mail(?: address)?|"
        r"address|number|details|contact(?: details| info\w*)?)\b",
        re.IGNORECASE,
    ),
    lazy(
        r"\b(?:as|on|to|in)\s+(?:a\s+|your\s+|the\s+)?(?:do[- ]not[- ](?:contact|call|e-?mail|mail)"
        r"|dnc)\b",
        re.IGNORECASE,
    ),
)
# Removal from a conversation, not from the outreach ("remove me from the cc, keep Anna",
# "take me off this thread"): masked out before the opt-out rules look.
_CONVERSATION_SCOPE = lazy(
    rf"\b(?:{_REMOVAL}|take|drop|leave|get|kick|pull|haal|nehmen|togli)\w*\b"
    r"(?:\s+[\w'’-]+){0,4}?\s+(?:cc|bcc|copie|copia|cópia|kopie|thread|loop|chain|invites?|"
    r"invitations?|meetings?|calendar|calls?|conversation|invoices?|billing)\b"
    r"(?!\s*(?:list|lists|database|sequence))",
    re.IGNORECASE,
)
# A negation governing the removal word itself, in any of the seven languages: "don't
# unsubscribe me", "no me des de baja", "niet afmelden", "non toglietemi".
_GOVERNING_NEGATION = lazy(
    r"(?:^|[\s(])(?:not|don'?t|do not|never|no need to|please don'?t|nicht|kein\w*|ne|non|no|"
    r"niet|não|nao|n'|ni)(?:\s+(?:me|us|mich|mij|mi|nos|ever|yet|need|needs|want|to|have|"
    r"bother|please|pls|bitte|des|de|te|se|le|la|go|going|hoor|even|meteen|gleich|jetzt|"
    r"ainda|ancora|todavía|encore|still|just|you|u|vous))*\s*$",
    re.IGNORECASE,
)


# A request about one address when another is given ("unsubscribe my old address, reach me
# at ...", "no me escriban al correo personal, mejor a ..."): the person still wants contact.
_OTHER_ADDRESS = lazy(
    r"\b(?:old|previous|former|personal|private|alte[nr]?|persönliche[nr]?|private[nr]?|"
    r"ancienne|personnelle|privée|antigu[oa]|personal|privad[oa]|vecchi[oa]|personale|"
    r"privat[oa]|antig[oa]|pessoal|oude|persoonlijke|privé)\s+(?:e-?mail|address|account|"
    r"adresse|mail|correo|dirección|indirizzo|posta|endereço|adres)\b|\b(?:e-?mail|address|"
    r"adresse|correo|dirección|indirizzo|endereço|adres)\s+(?:personal|privad[oa]|"
    r"personnelle|privée|personale|pessoal|privé)\b",
    re.IGNORECASE,
)


def _redirected(text: str, start: int) -> bool:
    return bool(_EMAIL.search(text)) and bool(_OTHER_ADDRESS.search(text[start : start + 80]))


def _negated(text: str, start: int) -> bool:
    clause = re.split(r"[,.;:!?\n—–]|\s-\s", text[max(0, start - 60) : start])[-1]
    return bool(_GOVERNING_NEGATION.search(clause))


# Misspelt anchor words ("unsubcribe", "out of ofice", "untill") by edit distance, so the
# rules need no list of typos. An inflection ("unsubscribed", "offices") is left alone.
_TYPO_WORDS = (("unsubscribe", 2), ("office", 1), ("until", 1))


@functools.cache
def _typo_anchors() -> tuple[tuple[Any, str], ...]:
    import regex  # fuzzy matching: loaded when a reply is first read

    return tuple(
        (regex.compile(rf"\b(?:{word}){{e<={edits}}}\b", regex.IGNORECASE | regex.BESTMATCH), word)
        for word, edits in _TYPO_WORDS
    )


def _fix_typos(text: str) -> str:
    for pattern, word in _typo_anchors():
        text = pattern.sub(
            lambda m, word=word: (
                m.group(0)
                if m.group(0).lower().startswith((word, "subscri", "resubscri"))
                or len(m.group(0)) < len(word) - 1
                else word
            ),
            text,
        )
    return text


def _find_opt_out(text: str) -> str | None:
    text = _CONVERSATION_SCOPE.sub(lambda m: " " * len(m.group(0)), text)
    for match in _OPT_OUT.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if (
            _OPT_OUT_NEGATION.search(before)
            or _negated(text, match.start())
            or _redirected(text, match.start())
        ):
            continue
        return match.group(0).strip()
    if _LEX_VETO.search(text):
        return None
    for pattern in (*_LEXICAL_OPT_OUT, *_FAMILY_OPT_OUT):
        for match in pattern.finditer(text):
            if not (_negated(text, match.start()) or _redirected(text, match.start())):
                return match.group(0).strip()
    return None


_OPT_OUT_WORDS = lazy(
    r"\b(?:unsub\w*|opt(?:ed|ing)?[- ]?out (?:of (?:this|these|your|the) (?:list|emails?|mails?)"
    r"|of (?:all|any|further))|remove (?:me|us|my|our)|(?:this|it|that) (?:is|was|feels like|"
    r"looks like) spam|do[- ]not[- ]contact|(?:your|this) mailing ?list|abmeld\w*|"
    r"austragen|abbestell\w*|d[ée]sinscri\w*|d[ée]sabonn\w*|dar(?:me|nos) de baja|"
    r"disiscri\w*|cancellami|descadastr\w*|afmeld\w*|uitschrijv\w*)\b",
    re.IGNORECASE,
)


# An opt-out scoped to a time ("no more emails until then", "bis dahin keine E-Mails mehr",
# "pas de relance d'ici là"): a pause asked for, not an end. A person checks.
_FOR_NOW = lazy(
    r"\b(?:until (?:then|we (?:get|come) back|next (?:week|month)|further notice from us)|"
    r"for (?:now|the time being|a (?:few|couple of) (?:days|weeks))|in the meantime|"
    r"(?:till|til) then|before (?:then|next (?:week|month))|"
    r"bis dahin|bis auf weiteres|vorerst|erstmal|bis wir uns (?:wieder )?melden|"
    r"in der zwischenzeit|"
    r"d'ici (?:là|la)|en attendant|pour l'instant|pour le moment|"
    r"hasta entonces|mientras tanto|por ahora|por el momento|"
    r"fino ad allora|nel frattempo|per ora|per il momento|"
    r"até lá|até (?:então|entao)|por enquanto|"
    r"tot dan|tot die tijd|voorlopig|in de tussentijd)\b",
    re.IGNORECASE,
)
# The whole reply is one stop word: "STOP", "Unsubscribe.", "Stopp!", "Arrêt".
_BARE_STOP = lazy(
    r"^\W*(?:stop|stopp|stoppen|unsubscribe|opt[- ]?out|remove|arr[êe]t(?:ez)?|basta|alto|"
    r"pare|parar|abmelden|afmelden|d[ée]sinscri(?:re|ption)|baja|uitschrijven|cancel)\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class OptOutReading:
    verdict: OptOut
    evidence: str | None = None


def opt_out_of(parsed: ParsedMessage, own: str, visible: str) -> OptOutReading:
    """The one opt-out decision: the strongest evidence of every detector.

    SURE when a header says so (Apple Mail's unsubscribe), the whole reply is a stop word, or
    the phrase and concept rules find a request not scoped to a time; CHECK (a person decides,
    nothing is dropped) when the request is scoped to a time ("no more emails until then") or
    only opt-out words appear; NONE otherwise."""
    if (parsed.header("X-Apple-Unsubscribe") or "").strip().lower() == "true":
        return OptOutReading(OptOut.SURE, "X-Apple-Unsubscribe: true")
    first = own.strip().split("\n", 1)[0] if own.strip() else ""
    if _BARE_STOP.match(first) and len(own.strip()) <= 40:
        return OptOutReading(OptOut.SURE, f"a bare {first.strip()!r}")
    subject = _REPLY_PREFIX_RE.sub("", parsed.subject)
    if _BARE_STOP.match(subject):
        return OptOutReading(OptOut.SURE, f"subject {subject.strip()!r}")
    found = _OPT_OUT_RE.search(subject)
    if found and not _OPT_OUT_INSTRUCTION_RE.search(subject):
        return OptOutReading(OptOut.SURE, f"opt-out request in the subject: {found.group(0)!r}")
    fixed = _fix_typos(own[:_MAX_RULE_TEXT])
    # A footer's instruction ("To unsubscribe from these mailings, click here") asks nothing.
    fixed = _SENTENCE_RE.sub(
        lambda m: " " * len(m.group(0)) if _FOOTER_RE.match(m.group(0)) else m.group(0), fixed
    )
    phrase = _find_opt_out(fixed)
    if phrase:
        if _FOR_NOW.search(fixed):
            return OptOutReading(OptOut.CHECK, f"opt-out words scoped to a time: {phrase!r}")
        return OptOutReading(OptOut.SURE, f"opt-out request: {phrase!r}")
    # The older phrase list (subject and text) reads more as opt-outs than are: a person checks.
    phrase = _opt_out_phrase(parsed.subject, visible[:_MAX_RULE_TEXT])
    if phrase:
        return OptOutReading(OptOut.CHECK, f"opt-out phrase: {phrase!r}")
    words = _OPT_OUT_WORDS.search(fixed)
    if words:
        return OptOutReading(OptOut.CHECK, f"opt-out words: {words.group(0)!r}")
    return OptOutReading(OptOut.NONE)


_SENTENCE_RE = lazy(r"[^.!?\n]+[.!?]*")
_FOOTER_RE = lazy(
    r"^\W*(?:to|if you (?:wish|want|would like) to|you (?:can|may)|click|um sich|pour vous|"
    r"pour (?:ne plus|vous d[ée]sinscrire)|para darse|para (?:se )?descadastrar|per disiscriverti|"
    r"om je af te melden)\b[^\n]{0,120}(?:unsubscribe|opt[- ]?out|be removed|abzumelden|"
    r"d[ée]sabonner|d[ée]sinscrire|baja|descadastrar|disiscriverti|af te melden)",
    re.IGNORECASE,
)
_MAX_RULE_TEXT = 20_000  # a request to stop stands near the top of a reply


def complaint_of(parsed: ParsedMessage) -> tuple[str | None, list[str]] | None:
    """An abuse report (ARF or JMRP): (feedback type, who complained), or None."""
    try:
        is_one, feedback_type, complainants = _complaint(parsed)
    except RecursionError:
        raise
    except Exception:  # hostile structure: the other checks still run
        return None
    return (feedback_type, complainants) if is_one else None
