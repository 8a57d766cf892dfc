"""Build the demo contact database in tiktok_audiences' reference schema, and its TikTok users.

Part of the sandbox distribution, not of the runtime provider: with the sandbox it is what the demo
(``tiktok-audiences demo`` / ``demo-db``), the tests and the benchmark need to run without TikTok.
It imports ``tiktok_audiences`` only inside :func:`population_hashes` (to hash exactly as the sync
task does); no module of the sandbox server imports this one.

The demo database stands in for a real marketing contact database: a
``contacts`` table with messy real-world identifiers, a ``segments`` table with
SQL criteria or static membership, and ``segment_members`` for the static ones.
Segment ids, names and criteria are fixed because the demo audience YAML files
refer to them.

Everything is SQLAlchemy Core, so the same code runs on SQLite and PostgreSQL,
and the data is a pure function of ``(contacts, seed)`` (``random.Random(seed)``
only), so tests and docs can rely on exact rows.

This module must not import Airflow.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

__all__ = [
    "CONTACTS",
    "DEMO_SEGMENTS",
    "METADATA",
    "SEGMENTS",
    "SEGMENT_MEMBERS",
    "DemoSegment",
    "DemoSummary",
    "POPULATION_SCHEMA",
    "build_demo_database",
    "create_reference_schema",
    "generate_contacts",
    "population_hashes",
    "register_population",
]

# ------------------------------------------------------------------ schema

METADATA = sa.MetaData()

CONTACTS = sa.Table(
    "contacts",
    METADATA,
    # autoincrement=False: ids come from the source system; no SERIAL/IDENTITY.
    sa.Column("contact_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("phone_country", sa.Text),
    sa.Column("mobile_ad_id", sa.Text),
    sa.Column("subscription_status", sa.Text),
    sa.Column("updated_at", sa.TIMESTAMP(timezone=False)),
)

SEGMENTS = sa.Table(
    "segments",
    METADATA,
    sa.Column("segment_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("criteria", sa.Text),
    sa.Column("deleted_at", sa.TIMESTAMP(timezone=False)),
)

SEGMENT_MEMBERS = sa.Table(
    "segment_members",
    METADATA,
    sa.Column("segment_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("contact_id", sa.BigInteger, primary_key=True, autoincrement=False),
)


@dataclass(frozen=True)
class DemoSegment:
    """One fixed demo segment.

    ``criteria`` is a SQL boolean expression over ``contacts`` (None for a static
    segment); ``member_share`` is the share of contacts put into
    ``segment_members`` for static segments.
    """

    segment_id: int
    name: str
    criteria: str | None
    member_share: float = 0.0
    deleted_at: datetime | None = None


# Fixed ids/names/criteria: the demo audience YAMLs are written against these.
DEMO_SEGMENTS: tuple[DemoSegment, ...] = (
    DemoSegment(1, "All subscribers", "subscription_status = 'subscribed'"),
    DemoSegment(2, "North America", "phone_country IN ('US', 'CA')"),
    DemoSegment(3, "Active since June 2026", "updated_at >= '2026-06-01'"),
    DemoSegment(4, "VIP customers", None, member_share=0.09),
    DemoSegment(5, "Unsubscribed", "subscription_status = 'unsubscribed'"),
    DemoSegment(6, "Suppression list", None, member_share=0.04),
    DemoSegment(
        7,
        "Spring 2026 campaign",
        None,
        member_share=0.12,
        deleted_at=datetime(2026, 10, 15, 9, 0, 0),
    ),
    DemoSegment(8, "Internal test accounts", "contact_id <= 600"),
)

INSERT_CHUNK_ROWS = 10_000
"""Rows per executemany call: large enough to amortize round trips, small enough
to keep parameter lists (and psycopg2's statement buffers) modest."""


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`build_demo_database` wrote."""

    contacts: int
    segments: dict[int, str]  # segment_id -> name


def create_reference_schema(engine: sa.Engine, *, drop_existing: bool = False) -> None:
    """Create ``contacts``, ``segments`` and ``segment_members`` if absent.

    With ``drop_existing`` the three tables are dropped first (other tables are
    left alone).
    """
    with engine.begin() as conn:
        if drop_existing:
            METADATA.drop_all(conn, checkfirst=True)
        METADATA.create_all(conn, checkfirst=True)


def build_demo_database(engine: sa.Engine, contacts: int = 60_000, seed: int = 7) -> DemoSummary:
    """(Re)create the reference schema and fill it with deterministic demo data.

    The three reference tables are dropped and recreated, then all rows are
    inserted in one transaction with executemany batches of
    :data:`INSERT_CHUNK_ROWS`.
    """
    if contacts < 1:
        raise ValueError("contacts must be at least 1")
    rng = random.Random(seed)
    contact_rows = generate_contacts(contacts, rng)
    member_rows = _static_members(contacts, rng)
    segment_rows = [
        {
            "segment_id": s.segment_id,
            "name": s.name,
            "criteria": s.criteria,
            "deleted_at": s.deleted_at,
        }
        for s in DEMO_SEGMENTS
    ]

    create_reference_schema(engine, drop_existing=True)
    with engine.begin() as conn:
        conn.execute(SEGMENTS.insert(), segment_rows)
        for chunk in _chunks(contact_rows, INSERT_CHUNK_ROWS):
            conn.execute(CONTACTS.insert(), chunk)
        for chunk in _chunks(member_rows, INSERT_CHUNK_ROWS):
            conn.execute(SEGMENT_MEMBERS.insert(), chunk)
    return DemoSummary(contacts=contacts, segments={s.segment_id: s.name for s in DEMO_SEGMENTS})


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _static_members(contacts: int, rng: random.Random) -> list[dict[str, int]]:
    """Random members for each static segment, sorted for stable insert order."""
    rows: list[dict[str, int]] = []
    for segment in DEMO_SEGMENTS:
        if segment.criteria is not None:
            continue
        size = max(1, round(contacts * segment.member_share))
        picked = sorted(rng.sample(range(1, contacts + 1), min(size, contacts)))
        rows.extend({"segment_id": segment.segment_id, "contact_id": cid} for cid in picked)
    return rows


# --------------------------------------------------------- contact generation

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


# --------------------------------------------------------- the demo's TikTok users

#: What each demo user is registered with on the sandbox (``POST /_sandbox/population``): the
#: SHA-256 of its email, of its phone as E.164 with ``+`` and as digits without ``+`` (TikTok
#: documents both forms, see docs/identifiers.md), and of its mobile ad id.
POPULATION_SCHEMA: tuple[str, ...] = ("email", "phone_e164", "phone_digits", "maid")


def population_hashes(engine: sa.Engine) -> list[list[str | None]]:
    """One TikTok user per demo contact: the hashes of its identifiers, in :data:`POPULATION_SCHEMA` order.

    A contact is one person, so its email, phone and mobile ad id are one user (TikTok's
    ``cover_num`` counts users, not hashes). Hashes are computed exactly as the sync task computes
    them (:func:`tiktok_audiences.members.hash_members`); raw values never leave this process.
    Contacts without any valid identifier are nobody TikTok could know and are left out.
    """
    from tiktok_audiences.members import Normalization, hash_members

    with engine.connect() as conn:
        frame = pd.read_sql(
            sa.select(CONTACTS.c.contact_id, CONTACTS.c.email, CONTACTS.c.phone, CONTACTS.c.phone_country,
                      CONTACTS.c.mobile_ad_id).order_by(CONTACTS.c.contact_id),
            conn,
        )
    # The email and mobile ad id as the customer-file default sends them, the phone in both forms
    # TikTok documents (digits first, then E.164), so Match is right whichever form an audience sends.
    members = hash_members(frame, normalization=Normalization(phone_format="both")).members
    users_by_contact: dict[int, list[str | None]] = {}
    for contact_id, id_type, id_hash in members.itertuples(index=False, name=None):
        user = users_by_contact.setdefault(int(contact_id), [None, None, None, None])
        if id_type == "email":
            user[0] = id_hash
        elif id_type == "maid":
            user[3] = id_hash
        elif user[2] is None:
            # A pre-hashed phone exists in one form only: it is registered as the form our default sends.
            user[2] = id_hash
        else:
            user[1] = id_hash
    return [users_by_contact[contact_id] for contact_id in sorted(users_by_contact)]


def register_population(sandbox_url: str, users: Sequence[Sequence[str | None]], chunk: int = 20_000) -> int:
    """Register ``users`` (from :func:`population_hashes`) with the sandbox; returns its user count.

    Sent in chunks to keep request bodies modest; groups sharing a hash merge across chunks too.
    """
    import requests

    registered = 0
    for start in range(0, len(users), chunk):
        response = requests.post(
            f"{sandbox_url}/_sandbox/population",
            json={"id_schema": list(POPULATION_SCHEMA), "users": [list(u) for u in users[start:start + chunk]]},
            timeout=120,
        )
        response.raise_for_status()
        registered = int(response.json()["users"])
    return registered
