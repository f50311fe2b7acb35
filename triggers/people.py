"""How to address a contact: given name by culture, company's common name, dates by locale.

Pure: names and time-zone names in, strings out. A CRM usually stores one `name`; whether its
first word is the given name depends on the culture. Chinese, Korean, Vietnamese and Hungarian
names are written family name first ("Tan Wei Ling": family name Tan, given name Wei Ling), so
for a contact in a zone where that order is usual and whose first word is a common family name
there, the given name is the rest. A `given_name` set in the CRM always wins.
"""

from __future__ import annotations

import re
from datetime import date

_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau", "mme", "m", "sr", "sra"}
)
_NAME_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-][^\W\d_])*")

# Zones where family-name-first order is common in how people write their own name.
_FAMILY_FIRST_ZONES = (
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Chongqing",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
    "Asia/Kuala_Lumpur",
    "Asia/Seoul",
    "Asia/Ho_Chi_Minh",
    "Asia/Saigon",
    "Asia/Hanoi",
    "Europe/Budapest",
)
# Common family names in those cultures (romanised); a first word outside this list is read as
# a given name even there ("Priya Nair" in Singapore).
_FAMILY_NAME_TEXT = """
    tan lim lee ng ong wong chan goh chua koh teo ang yeo tay ho low toh sim chong chia lau
    leong foo seah quek heng phua khoo yap soh wee poh cheong kwok lai liew loh neo pang
    wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he lin luo zheng
    liang xie song tang han feng deng cao peng zeng xiao tian dong pan yuan cai jiang yu du ye
    cheng wei su lu ding shen jiang yao fang jin qiu hou zou xiong bai cui
    kim park choi jung jeong kang cho yoon yun jang lim han oh seo shin kwon hwang ahn song
    nguyen tran le pham hoang huynh phan vu vo dang bui do ngo duong ly
    nagy kovacs toth szabo horvath varga kiss molnar nemeth farkas balogh papp
"""
_FAMILY_NAMES = frozenset(_FAMILY_NAME_TEXT.split())

# Legal-form suffixes dropped from a company's name in a sentence ("Vantage Freight Pte Ltd").
_LEGAL_SUFFIX = re.compile(
    r"(?:[\s,]+(?:pte\.?\s*ltd\.?|pvt\.?\s*ltd\.?|sdn\.?\s*bhd\.?|pty\.?\s*ltd\.?|co\.?,?\s*ltd\.?|"
    r"ltd\.?|limited|llc|l\.l\.c\.|llp|inc\.?|incorporated|corp\.?|corporation|plc|gmbh(?:\s*&\s*co\.?\s*kg)?|"
    r"ag|kg|ug|se|s\.?a\.?s?\.?|s\.?r\.?l\.?|s\.?p\.?a\.?|b\.?v\.?|n\.?v\.?|oy|ab|as|a/s|aps|k\.?k\.?|"
    r"pte|bv|sarl|sàrl|e\.?k\.?|kft\.?|zrt\.?|sp\.\s*z\s*o\.?\s*o\.?))+\s*$",
    re.IGNORECASE,
)

# Zones whose people write month-first dates ("November 16"); everyone else day-first.
_MONTH_FIRST_ZONES = ("America/", "US/", "Pacific/Honolulu")
_MONTH_FIRST_EXCEPTIONS = ("America/Sao_Paulo", "America/Mexico_City", "America/Argentina")


def name_parts(name: str) -> tuple[str, ...]:
    """The words of a person's name as written, without honorifics or an address."""
    text = name.strip()
    if not text or "@" in text:
        return ()
    if text.count(",") == 1:  # "Lee, Jordan": CRM exports often put the family name first
        last, first = (part.strip() for part in text.split(","))
        text = f"{first} {last}"
    words = _NAME_TOKEN.findall(text)
    return tuple(w for w in words if w.lower().rstrip(".") not in _HONORIFICS)


def family_name_first(name: str, timezone: str | None) -> bool:
    """Whether `name` reads family name first for a contact in `timezone`."""
    parts = name_parts(name)
    if len(parts) < 2 or not timezone or "," in name:
        return False
    if not timezone.startswith(_FAMILY_FIRST_ZONES):
        return False
    return parts[0].lower() in _FAMILY_NAMES


def given_name(name: str, timezone: str | None = None, override: str | None = None) -> str:
    """The name to greet a contact with: 'Lena' for 'Lena Hoffmann', 'Wei Ling' for 'Tan Wei
    Ling' in Singapore; '' when the name is unusable."""
    if override and override.strip():
        return override.strip()
    parts = name_parts(name)
    if not parts:
        return ""
    if family_name_first(name, timezone):
        return " ".join(parts[1:])
    return parts[0]


def family_name(name: str, timezone: str | None = None) -> str:
    parts = name_parts(name)
    if len(parts) < 2:
        return ""
    return parts[0] if family_name_first(name, timezone) else parts[-1]


def common_company_name(company: str) -> str:
    """The name people say: 'Vantage Freight' for 'Vantage Freight Pte Ltd'."""
    text = " ".join(company.split())
    stripped = _LEGAL_SUFFIX.sub("", text).strip(" ,")
    return stripped or text


def month_first(timezone: str | None) -> bool:
    """Whether a contact in `timezone` writes dates month first (the US convention)."""
    if not timezone:
        return False
    if timezone.startswith(_MONTH_FIRST_EXCEPTIONS):
        return False
    return timezone.startswith(_MONTH_FIRST_ZONES)


def format_day(day: date, timezone: str | None, *, weekday: bool = False) -> str:
    """'16 November' (or 'Monday 16 November') day-first; 'November 16' in the US."""
    if month_first(timezone):
        text = f"{day:%B} {day.day}"
        return f"{day:%A}, {text}" if weekday else text
    text = f"{day.day} {day:%B}"
    return f"{day:%A} {text}" if weekday else text
