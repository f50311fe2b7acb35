"""Bounce reason tables, as data: which words and status codes mean which failure.

`reading/bounces.py` compiles them (once, on first use) and applies them; changing what a
notice means is an edit here, not in the logic."""

from __future__ import annotations

from typing import Final

# Reasons. Order matters: the first family whose words appear wins, so the specific
# non-address reasons (full mailbox, spam, policy) come before "user unknown", whose words
# show up in many generic rejections.
REASON_FAMILIES: Final[tuple[tuple[str, str], ...]] = (
    ("host_unknown", r"account or domain may not exist"),
    (
        # About us, not the recipient: our sender address, our IP, our host name.
        "rejected",
        r"domain of sender address|sender address rejected|sender (?:domain|address) "
        r".{0,30}(?:does not exist|invalid|unknown|not found|rejected)|after mail from|"
        r"in reply to mail from|my name was rejected|\b(?:helo|ehlo)\b",
    ),
    (
        "blocked",
        r"\bptr\b|reverse (?:dns|lookup)|\brdns\b|blacklisted|blocklisted|spamhaus|"
        r"\bdnsbl\b|\brbl\b|banned sending ip|sending ip|(?:your|the) ip(?: address)? "
        r"(?:\S+ )?(?:is|has been|was)|ip address .{0,40}(?:block|listed|reject|banned)|"
        r"too many recipients|sending limit|rate limit|recipient preferences",
    ),
    (
        "network",
        r"name service error|malformed or unexpected name server|host not found, try again|"
        r"temporary (?:dns|lookup|name)",
    ),
    (
        # Phrases that say "no such recipient" in words other reasons would claim.
        "user_unknown",
        r"recipient address rejected(?::\s*(?:access denied|user unknown|unknown user|"
        r"undeliverable address|invalid recipient|no such user))?\s*(?:\.|$|\[)|"
        r"invalid final delivery userid|recipient name is not recognized|"
        r"not listed in (?:the )?(?:domino )?(?:directory|public name)|no valid recipients?|"
        r"unknown recipient|recipient unknown|user unknown|unknown user|no such user|"
        r"please check if (?:the )?address is correct|"
        r"and other recipients in the same domain",
    ),
    (
        "mailbox_full",
        r"mailbox (?:is )?full|mail ?box full|mailbox size limit|over ?quota|quota (?:exceeded|"
        r"exceed|full)|exceeded (?:storage|(?:the )?quota|.{0,20}quota)|insufficient (?:disk|"
        r"storage|system storage)|user(?:'s)? (?:mailbox|disk) (?:is )?full|"
        r"out of (?:disk|storage) space|storage (?:limit|quota)|full mailbox|"
        r"mailbox (?:has )?exceeded|too much mail|exceeds? (?:his|her|the user's) "
        r"(?:storage|quota)|disk quota|postfach (?:ist )?voll|boîte (?:aux lettres )?pleine|"
        r"casilla llena|mailfolder is full|\bquota\b",
    ),
    (
        "host_unknown",
        r"host (?:or domain name )?(?:not found|unknown)|unknown host|host not found|"
        r"domain (?:not found|does not exist|name not found|unknown|lookup failed)|"
        r"name or service not known|no mx (?:record|host)|mx (?:record )?(?:not found|lookup)|"
        r"unrouteable mail domain|unrouteable domain|no such domain|nxdomain|"
        r"domain (?:is )?(?:invalid|not valid|not reachable|unreachable)|invalid domain|"
        r"bad domain|"
        r"dns (?:error|lookup fail)|unresolvable|could not be resolved|"
        r"host (?:name )?lookup failed|illegal host|hostname (?:not found|unknown)|"
        r"recipient domain .{0,40}(?:not exist|invalid)|domain .{0,40} does not exist|"
        r"(?:^|\s)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,} does not exist",
    ),
    (
        "not_accept",
        r"does not accept (?:e?-?mail|messages)|not accepting (?:\w+ )?(?:mail|messages)|"
        r"null mx|accepts no mail|domain .{0,60} does not receive|no longer accepts|"
        r"no smtp service|no mx (?:record )?(?:found|for)",
    ),
    (
        "has_moved",
        r"has moved|has been moved|address (?:has )?changed|is now at|new (?:e-?mail )?address "
        r"is|moved to|forwarding address",
    ),
    (
        "suspended",
        r"account (?:has been |is )?(?:disabled|suspended|deactivated|inactive|locked|"
        r"expired|frozen|blocked)|mailbox (?:has been |is )?(?:disabled|suspended|inactive|"
        r"deactivated|locked|frozen)|(?:disabled|suspended|inactive|deactivated|locked|frozen)"
        r" (?:account|mailbox|user)|user (?:account )?(?:is )?(?:disabled|suspended|"
        r"inactive)|temporarily (?:disabled|suspended)|not active|has been (?:disabled|"
        r"suspended)|is (?:currently )?(?:disabled|inactive|suspended)",
    ),
    (
        "spam",
        r"spam|junk mail|\bubce?\b|blacklist|blocklist|block list|black list|spamhaus|"
        r"\bdnsbl\b|\brbl\b|(?<!not )listed (?:in|on|at|by)|reputation|bulk mail|virus|malware|"
        r"content (?:rejected|filter)|message content|looks like|suspicious",
    ),
    (
        "policy",
        r"\bpolicy\b|policies|not authorized|not permitted|relay(?:ing)? (?:denied|not "
        r"permitted|access denied|prohibited)|unable to relay|relay not|access denied|"
        r"authentication (?:required|failed)|\bspf\b|\bdkim\b|\bdmarc\b|sender (?:address )?"
        r"(?:rejected|denied|verify|not)|ptr|reverse (?:dns|lookup)|rdns|"
        r"not (?:on|in) (?:the )?(?:allowed|white|accept)|refused|prohibited|"
        r"restricted|denied|tls|encryption|message (?:size|too (?:big|large))|"
        r"too (?:big|large)|size (?:limit|exceeds)|exceeds? (?:the )?(?:maximum|size)|"
        r"rate limit|too many|try again later|greylist|gr[ae]ylisted",
    ),
    (
        "filtered",
        r"filter|blocked|rejected by (?:the )?(?:recipient|user)|recipient (?:rejected|"
        r"refused)|does not (?:want|wish) to receive|not (?:accept|allow)ed from|"
        r"domain (?:filter|blocked)",
    ),
    (
        "user_unknown",
        r"user (?:unknown|not found|does not exist|doesn't exist|not known|invalid|name is "
        r"not valid)|unknown (?:user|recipient|address|local|mailbox|account|alias)|"
        r"no such (?:user|mailbox|recipient|person|address|account|local user)|"
        r"(?:mailbox|recipient|address|account|addressee|user) (?:(?:was|is) )?"
        r"(?:not found|unknown|unavailable|does ?n[o']t exist|not exist|invalid|"
        r"is not valid|not valid)|"
        r"invalid (?:recipient|mailbox|address|user|account)|bad (?:destination )?"
        r"(?:mailbox|recipient|address)|does not exist|doesn't exist|not a valid "
        r"(?:mailbox|user|recipient|address)|unrouteable address|not listed in|"
        r"no mailbox|mailbox not (?:found|available)|"
        r"recipientnotfound|recipient not found|invalid address|address not present|"
        r"not our customer|no account|no longer (?:valid|available|active|exists?)|"
        r"nonexist|non-existent|nicht vorhanden|unbekannt|inconnu|desconocido|sconosciuto|"
        r"destin[ae]tario (?:inexistente|sconosciuto|desconhecido)|"
        r"mailbox unavailable|user doesn't have|this user doesn't|isn't a valid",
    ),
    (
        "expired",
        r"retry (?:time(?:out)?|period) (?:exceeded|expired)|too long|gave up|giving up|"
        r"could not be delivered (?:for|within)|delivery time expired|expired|"
        r"timed? ?out|time-?out|maximum time|delivery (?:is )?delayed|has been delayed|"
        r"will (?:continue|keep) trying|deferred|not yet been delivered",
    ),
    (
        "network",
        r"connection (?:refused|reset|timed out|lost|closed|failed)|network|unreachable|"
        r"no route|could not connect|unable to connect|lost connection|too many hops|"
        r"loop|routing|protocol",
    ),
    ("system", r"system (?:error|full|not available)|internal (?:server )?error|local error"),
)
HARD_REASONS: Final = frozenset({"user_unknown", "host_unknown", "has_moved", "not_accept"})
# Reasons about the mailbox itself, told by the server that holds it.
ADDRESS_REASONS: Final = frozenset({"user_unknown", "has_moved"})
STATUS_REASONS: Final = {
    "5.1.1": "user_unknown",
    "5.1.10": "user_unknown",
    "5.1.2": "host_unknown",
    "5.1.6": "has_moved",
    "5.2.2": "mailbox_full",
    "4.2.2": "mailbox_full",
    "5.2.1": "suspended",
    "5.2.3": "policy",
    "5.3.4": "policy",
    "5.7.1": "policy",
    "5.4.4": "host_unknown",
    "5.1.3": "user_unknown",
}

# Provider rules: wordings whose meaning only the provider that writes them defines. A rule
# applies when the host reporting the failure, or the remote host that refused the mail,
# belongs to the provider (Reporting-MTA, Remote-MTA, the bounce's sender domain):
# (host pattern, ((reason, pattern), ...)), patterns case-insensitive.
PROVIDER_REASONS: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    (
        # Symantec Email Security.cloud (formerly MessageLabs) refuses unknown recipients
        # with its own reply code: "542 <address> Rejected".
        r"(?:^|\.)messagelabs\.com$",
        (("user_unknown", r"\b542\b[^\n]{0,120}\brejected\b|no such user"),),
    ),
)
