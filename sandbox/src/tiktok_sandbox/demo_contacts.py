"""The demo's contact rows: messy real-world identifiers, a pure function of ``(contacts, seed)``.

:func:`generate_contacts` makes the rows of the demo database's ``contacts`` table
(:data:`tiktok_sandbox.demo_data.CONTACTS`), with every kind of mess the identifier pipeline must
cope with: blank, duplicate, malformed, internationalized and pre-hashed emails, phones in national,
international, full-width and junk spellings, and mobile ad ids with realistic defects. Only
``random.Random(seed)`` is used, so tests and docs can rely on exact rows; the benchmark uses it to
make identifier frames without a database. Standard library only (no Airflow, no SQLAlchemy).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

# Shares below (percent of contacts that have identifiers at all) are chosen to
# look like a real marketing list: most rows are fine, and every kind of mess the
# identifier pipeline must cope with shows up at least a few times even in a
# 5,000-row test database.
# Contacts created without any identifier; with the independent NULL shares below
# (email 11% x phone 25% x MAID 60% = ~1.6%) about 3% end up with none at all.
_NO_IDENTIFIER_SHARE = 0.014
_MAID_SHARE = 0.40
# fmt: off
_EMAIL_KINDS: dict[str, float] = {
    "null": 10, "blank": 1, "duplicate": 1, "idn": 1, "malformed": 2, "prehashed": 1, "plain": 84,
}
_PHONE_KINDS: dict[str, float] = {
    "null": 25, "duplicate": 1, "junk": 1, "no_region": 2, "bad_region": 0.3,
    "fullwidth": 1, "extension": 1, "international": 20, "national": 48.7,
}
# fmt: on

_UPDATED_FROM = datetime(2025, 1, 1)
_UPDATED_SPAN_SECONDS = int((datetime(2026, 11, 1) - _UPDATED_FROM).total_seconds())

_STATUSES = (("subscribed", 70), ("unsubscribed", 20), ("transactional", 10))

# fmt: off
_FIRST_NAMES = (
    "james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda",
    "david", "elizabeth", "lukas", "anna", "leon", "mia", "noah", "emma", "hugo",
    "chloe", "lucas", "ines", "gabriel", "julia", "mateus", "beatriz", "arjun",
    "priya", "rahul", "ananya", "haruto", "yui", "sota", "hina", "oliver",
    "charlotte", "jack", "amelia", "liam", "olivia", "ethan", "sophie",
)
_LAST_NAMES = (
    "smith", "johnson", "williams", "brown", "jones", "miller", "davis", "wilson",
    "taylor", "clark", "mueller", "schmidt", "schneider", "fischer", "weber",
    "martin", "bernard", "dubois", "thomas", "robert", "silva", "santos",
    "oliveira", "souza", "sharma", "patel", "singh", "kumar", "sato", "suzuki",
    "takahashi", "tanaka", "walker", "white", "harris", "lee", "nguyen", "roberts",
)
_DOMAINS_BY_COUNTRY: dict[str, tuple[str, ...]] = {
    "US": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"),
    "CA": ("gmail.com", "outlook.com", "shaw.ca", "rogers.com"),
    "GB": ("gmail.com", "btinternet.com", "hotmail.co.uk", "outlook.com"),
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com"),
    "FR": ("orange.fr", "free.fr", "laposte.net", "gmail.com"),
    "BR": ("gmail.com", "uol.com.br", "bol.com.br", "hotmail.com"),
    "IN": ("gmail.com", "rediffmail.com", "yahoo.co.in"),
    "JP": ("gmail.com", "yahoo.co.jp", "docomo.ne.jp"),
    "AU": ("gmail.com", "bigpond.com", "optusnet.com.au"),
}
# Internationalized domains stay in unicode end to end (no punycode).
_IDN_DOMAINS = ("bücher.de", "müller-shop.de", "café-paris.fr", "ñandú.com.ar", "例え.jp")
_MALFORMED_EMAILS: tuple[Callable[[str, str], str], ...] = (
    lambda local, domain: f"{local}{domain}",  # lost the @
    lambda local, domain: f"{local}@@{domain}",
    lambda local, domain: f"{local}@{domain.split('.')[0]}",  # no TLD
    lambda local, domain: f"{local} @{domain}",  # space inside
    lambda local, domain: f"{local}@{domain}.",  # trailing dot
    lambda local, domain: f"{local}@",
    lambda local, domain: f"@{domain}",
    lambda local, domain: f"{local},{local}@{domain}",  # two addresses pasted together
    lambda local, domain: "n/a",
)
_PHONE_JUNK = ("n/a", "12", "000", "-", "unknown", "tbd", "1234", "+", "none")

# country -> weight in the contact base
_COUNTRIES: tuple[tuple[str, int], ...] = (
    ("US", 30), ("CA", 6), ("GB", 14), ("DE", 12), ("FR", 9),
    ("BR", 10), ("IN", 9), ("JP", 5), ("AU", 5),
)
_COUNTRY_CODE = {
    "US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33",
    "BR": "55", "IN": "91", "JP": "81", "AU": "61",
}
_NANP_AREA_CODES = {
    "US": ("212", "213", "312", "415", "512", "617", "650", "702", "713", "206", "303", "404"),
    "CA": ("416", "604", "514", "403", "613", "780", "902"),
}
# fmt: on


def generate_contacts(contacts: int, rng: random.Random | int = 7) -> list[dict[str, Any]]:
    """Return ``contacts`` demo rows (dicts keyed by ``contacts`` columns).

    ``rng`` is a ``random.Random`` or a seed; ids run 1..``contacts``. Exposed so
    benchmarks can produce realistic identifier frames without a database.
    """
    if not isinstance(rng, random.Random):
        rng = random.Random(rng)
    countries = [c for c, _ in _COUNTRIES]
    country_weights = [w for _, w in _COUNTRIES]
    statuses = [s for s, _ in _STATUSES]
    status_weights = [w for _, w in _STATUSES]

    rows: list[dict[str, Any]] = []
    for contact_id in range(1, contacts + 1):
        country = rng.choices(countries, country_weights)[0]
        email, phone, phone_country, maid = _identifiers(rng, country, rows)
        rows.append(
            {
                "contact_id": contact_id,
                "email": email,
                "phone": phone,
                "phone_country": phone_country,
                "mobile_ad_id": maid,
                "subscription_status": rng.choices(statuses, status_weights)[0],
                "updated_at": _UPDATED_FROM
                + timedelta(seconds=rng.randrange(_UPDATED_SPAN_SECONDS)),
            }
        )
    return rows


def _identifiers(
    rng: random.Random, country: str, earlier: list[dict[str, Any]]
) -> tuple[str | None, str | None, str | None, str | None]:
    """(email, phone, phone_country, mobile_ad_id) for one contact."""
    # phone_country is the contact's country, known even without a phone.
    if rng.random() < _NO_IDENTIFIER_SHARE:
        return None, None, country, None
    email = _email(rng, country, earlier)
    phone, phone_country = _phone(rng, country, earlier)
    maid = _maid(rng) if rng.random() < _MAID_SHARE else None
    return email, phone, phone_country, maid


def _kind(rng: random.Random, kinds: dict[str, float]) -> str:
    return rng.choices(list(kinds), list(kinds.values()))[0]


def _email(rng: random.Random, country: str, earlier: list[dict[str, Any]]) -> str | None:
    kind = _kind(rng, _EMAIL_KINDS)
    if kind == "null":
        return None
    if kind == "blank":
        return rng.choice(("", "   "))
    if kind == "duplicate" and earlier:
        # Shared family/company mailbox: same address, possibly typed differently.
        previous = rng.choice(earlier)["email"]
        if previous:
            return _messy_case(rng, previous)
    local = _local_part(rng)
    domain = rng.choice(_IDN_DOMAINS if kind == "idn" else _DOMAINS_BY_COUNTRY[country])
    if kind == "malformed":
        return rng.choice(_MALFORMED_EMAILS)(local, domain)
    address = f"{local}@{domain}"
    if kind == "prehashed":
        # Some sources only hold hashes; a third of them in upper-case hex.
        digest = hashlib.sha256(address.encode("utf-8")).hexdigest()
        return digest.upper() if rng.random() < 0.35 else digest
    return _messy_case(rng, address)


def _local_part(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    style = rng.random()
    if style < 0.35:
        local = f"{first}.{last}"
    elif style < 0.55:
        local = f"{first}{last}{rng.randint(1, 99)}"
    elif style < 0.70:
        local = f"{first[0]}{last}"
    elif style < 0.80:
        local = f"{first}_{last}{rng.randint(1950, 2008)}"
    elif style < 0.88:
        local = f"{first}.{last}+{rng.choice(('news', 'shop', 'promo', 'tiktok'))}"
    else:
        local = f"{first}{rng.randint(100, 99999)}"
    return local


def _messy_case(rng: random.Random, text: str) -> str:
    """Mixed case and stray surrounding whitespace, as typed into web forms."""
    style = rng.random()
    if style < 0.15:
        text = text.title()
    elif style < 0.20:
        text = text.upper()
    if rng.random() < 0.06:
        text = rng.choice((" ", "  ", "\t", "")) + text + rng.choice((" ", "  ", "\n"))
    return text


def _phone(
    rng: random.Random, country: str, earlier: list[dict[str, Any]]
) -> tuple[str | None, str | None]:
    """(phone, phone_country) in one of many real-world spellings."""
    kind = _kind(rng, _PHONE_KINDS)
    if kind == "null":
        return None, _region_spelling(rng, country)
    if kind == "duplicate" and earlier:
        # Household landline / shared business number.
        previous = rng.choice(earlier)
        if previous["phone"]:
            return previous["phone"], previous["phone_country"]
    if kind == "junk":
        return rng.choice(_PHONE_JUNK), _region_spelling(rng, country)
    if kind == "no_region":
        # A national number whose country was never captured: unusable.
        return _national(rng, country), None
    if kind == "bad_region":
        # Free-text country field instead of an ISO code.
        return _national(rng, country), rng.choice(("USA", "Deutschland", "XX"))
    if kind == "fullwidth":
        return _fullwidth(_national(rng, country)), country
    if kind == "extension":
        extension = f"{rng.choice(('x', 'ext. ', 'ext', ' #'))}{rng.randint(1, 999)}"
        return f"{_national(rng, country)} {extension}", country
    if kind == "international":
        # The number carries its country code, so the country is often not captured.
        region = None if rng.random() < 0.4 else _region_spelling(rng, country)
        return _international(rng, country), region
    return _national(rng, country), _region_spelling(rng, country)


def _region_spelling(rng: random.Random, country: str) -> str:
    """Mostly the ISO code; sometimes lower case, padded, or 'UK' for GB."""
    roll = rng.random()
    if roll < 0.03:
        return country.lower()
    if roll < 0.04:
        return f" {country} "
    if country == "GB" and roll < 0.10:
        return "UK"
    return country


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _national_significant(rng: random.Random, country: str) -> str:
    """Digits after the country code, drawn from ranges libphonenumber accepts."""
    if country in ("US", "CA"):
        exchange = str(rng.randint(2, 9)) + str(rng.randint(0, 9)) + str(rng.randint(2, 9))
        return rng.choice(_NANP_AREA_CODES[country]) + exchange + _digits(rng, 4)
    if country == "GB":
        if rng.random() < 0.8:
            return "7" + rng.choice("45789") + _digits(rng, 8)
        return "20" + rng.choice("378") + _digits(rng, 7)
    if country == "DE":
        if rng.random() < 0.75:
            return "15" + rng.choice("1257") + _digits(rng, 8)
        return "30" + _digits(rng, 8)
    if country == "FR":
        return rng.choice(
            ("60", "61", "62", "64", "65", "66", "67", "68", "75", "76", "77", "78")
        ) + _digits(rng, 7)
    if country == "BR":
        return (
            rng.choice(("11", "21", "31", "41", "51", "61", "71", "81", "85"))
            + "9"
            + _digits(rng, 8)
        )
    if country == "IN":
        return rng.choice("9876") + _digits(rng, 9)
    if country == "JP":
        return "80" + _digits(rng, 8)
    if country == "AU":
        return "4" + rng.choice("0123") + _digits(rng, 7)
    raise ValueError(f"no phone plan for {country}")


def _national(rng: random.Random, country: str) -> str:
    """A national-format spelling (trunk prefix, local grouping, separators)."""
    nsn = _national_significant(rng, country)
    if country in ("US", "CA"):
        a, e, line = nsn[:3], nsn[3:6], nsn[6:]
        return rng.choice(
            (
                f"({a}) {e}-{line}",
                f"{a}-{e}-{line}",
                f"{a}.{e}.{line}",
                f"{a}{e}{line}",
                f"1-{a}-{e}-{line}",
            )
        )
    if country == "BR":
        return rng.choice((f"({nsn[:2]}) {nsn[2:7]}-{nsn[7:]}", f"0{nsn[:2]} {nsn[2:]}", nsn))
    if country == "JP":
        return rng.choice((f"0{nsn[:2]}-{nsn[2:6]}-{nsn[6:]}", f"0{nsn}"))
    trunk = "0" + nsn
    return rng.choice(
        (
            f"{trunk[:5]} {trunk[5:]}",
            trunk,
            f"{trunk[:4]}-{trunk[4:]}",
            f"{trunk[:4]} {trunk[4:7]} {trunk[7:]}",
        )
    )


def _international(rng: random.Random, country: str) -> str:
    """+CC or 00CC spellings with assorted separators."""
    cc, nsn = _COUNTRY_CODE[country], _national_significant(rng, country)
    style = rng.random()
    if style < 0.35:
        return f"+{cc}{nsn}"
    if style < 0.65:
        return f"+{cc} {nsn[:3]} {nsn[3:6]} {nsn[6:]}"
    if style < 0.80:
        return f"+{cc}-{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}"
    if style < 0.90:
        return f"+{cc} ({nsn[:3]}) {nsn[3:]}"
    return f"00{cc} {nsn[:3]} {nsn[3:]}"


def _fullwidth(text: str) -> str:
    """Full-width digits (U+FF10..FF19), as pasted from Japanese/Chinese input methods."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isdigit() else ch for ch in text)


def _maid(rng: random.Random) -> str:
    """An IDFA (upper-case) or GAID (lower-case) UUID, with realistic defects."""
    roll = rng.random()
    if roll < 0.03:
        # Limited ad tracking / ATT denied: the OS hands out the zero id.
        return "00000000-0000-0000-0000-000000000000"
    value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if roll < 0.05:
        return rng.choice((value.replace("-", ""), value[:-4], f"{{{value}}}", "unknown"))
    style = rng.random()
    if style < 0.45:
        return value.upper()  # iOS IDFA as Apple prints it
    if style < 0.50:
        return "".join(ch.upper() if rng.random() < 0.5 else ch for ch in value)
    if style < 0.53:
        return f" {value} "
    return value
