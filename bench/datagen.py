"""Fast reference-schema contact databases for the benchmark (PostgreSQL COPY, numpy-vectorized).

Identifiers look like real CRM exports: mixed case, stray spaces, national and international phone
numbers in several countries, missing values, a few invalid values of every kind, shared emails
(two contacts of one household), mobile ad ids in both cases and some zeroed (limited ad tracking).
Everything is a deterministic function of the contact id and the seed, so a run is reproducible.

Segments (the audience is include [1, 2] minus exclude [3]):

* 1 "Engaged" criteria ``contact_id % 10 < 5`` (50% of contacts)
* 2 "Imported list" static, ``segment_members`` rows for ``contact_id % 20 = 5`` (5%)
* 3 "Unsubscribed" criteria ``subscription_status = 'unsubscribed'`` (~8%, exclude)

so the audience covers about half of the contacts (include 55%, minus the unsubscribed).
"""

from __future__ import annotations

import io
import time

import numpy as np
import sqlalchemy as sa

FIRST = np.array("anna ben carla david emma felix grace hugo iris jonas kara liam mia noah olga paul "
                 "quinn rosa sam tara uma victor wen xavier yara zoe".split())
LAST = np.array("smith muller garcia rossi dubois kowalski tanaka silva nguyen jones brown martin "
                "schmidt lopez bernard moreau weber wagner".split())
DOMAINS = np.array(["gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "web.de", "orange.fr",
                    "icloud.com", "example.org", "gmx.net", "company.io"])
US_AREAS = np.array(["212", "213", "312", "415", "512", "617", "650", "702", "713", "206", "303", "404"])

SCHEMA = """
DROP TABLE IF EXISTS segment_members, segments, contacts;
CREATE UNLOGGED TABLE contacts (contact_id BIGINT PRIMARY KEY, email TEXT, phone TEXT, phone_country TEXT,
    mobile_ad_id TEXT, subscription_status TEXT, updated_at TIMESTAMP);
CREATE UNLOGGED TABLE segments (segment_id BIGINT PRIMARY KEY, name TEXT NOT NULL, criteria TEXT,
    deleted_at TIMESTAMP);
CREATE UNLOGGED TABLE segment_members (segment_id BIGINT, contact_id BIGINT,
    PRIMARY KEY (segment_id, contact_id));
"""
SEGMENTS = [
    (1, "Engaged", "contact_id % 10 < 5"),
    (2, "Imported list", None),
    (3, "Unsubscribed", "subscription_status = 'unsubscribed'"),
]
AUDIENCE = {"include_segments": [1, 2], "exclude_segments": [3]}


def _cat(*parts) -> np.ndarray:
    out = np.asarray(parts[0]).astype(object)
    for p in parts[1:]:
        out = out + np.asarray(p).astype(object)
    return out


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10**width, n).astype(str), width).astype(object)


def contact_chunk(ids: np.ndarray, seed: int = 7, version: int = 0) -> dict[str, np.ndarray]:
    """Columns of the contacts with these ids; ``version`` > 0 gives edited identifiers."""
    n = len(ids)
    rng = np.random.default_rng([seed, int(ids[0]), version])
    idstr = ids.astype(str).astype(object)
    # -- email: 88% present; 25% odd case, 8% padded, 1% shared with a neighbour, 1% invalid
    first, last = FIRST[ids % len(FIRST)], LAST[(ids // 7) % len(LAST)]
    dom = DOMAINS[rng.integers(0, len(DOMAINS), n)]
    tag = "" if version == 0 else f"+v{version}"
    email = _cat(first, ".", last, idstr, tag, "@", dom)
    u = rng.random(n)
    shared = u < 0.01
    email[shared] = _cat(first[shared], ".", last[shared], (ids[shared] - 1).astype(str), "@", dom[shared])
    email[(u >= 0.01) & (u < 0.02)] = _cat(first, ".", last, idstr, "@")[(u >= 0.01) & (u < 0.02)]
    case = rng.random(n)
    upper = case < 0.05
    email[upper] = np.char.upper(email[upper].astype(str)).astype(object)
    title = (case >= 0.05) & (case < 0.25)
    email[title] = np.char.capitalize(email[title].astype(str)).astype(object)
    pad = rng.random(n) < 0.08
    email[pad] = _cat("  ", email[pad], " ")
    email[rng.random(n) >= 0.88] = None
    # -- phone: 65% present, countries and spellings mixed
    kind = rng.random(n)
    country = np.full(n, "US", dtype=object)
    phone = np.empty(n, dtype=object)
    sub = _digits(rng, n, 4)
    exch = (rng.integers(2, 10, n).astype(str).astype(object) + _digits(rng, n, 2))
    area = US_AREAS[rng.integers(0, len(US_AREAS), n)].astype(object)
    m = kind < 0.30  # US national "(415) 234-5678"
    phone[m] = _cat("(", area, ") ", exch, "-", sub)[m]
    m = (kind >= 0.30) & (kind < 0.45)  # US international "+1 415-234-5678"
    phone[m] = _cat("+1 ", area, "-", exch, "-", sub)[m]
    gb = _digits(rng, n, 6)
    m = (kind >= 0.45) & (kind < 0.55)  # GB national "07911 123456"
    phone[m], country[m] = _cat("07911 ", gb)[m], "gb"
    m = (kind >= 0.55) & (kind < 0.65)  # GB international
    phone[m], country[m] = _cat("+44 7911 ", gb)[m], "GB"
    m = (kind >= 0.65) & (kind < 0.75)  # DE international, 00 prefix
    phone[m], country[m] = _cat("0049 151 ", _digits(rng, n, 8))[m], "DE"
    fr = _digits(rng, n, 8)
    m = (kind >= 0.75) & (kind < 0.85)  # FR national "06 12 34 56 78"
    phone[m], country[m] = _cat("06 ", fr.astype(str).astype(object))[m], "FR"
    m = (kind >= 0.85) & (kind < 0.95)  # IN international
    phone[m], country[m] = _cat("+91 98", _digits(rng, n, 8))[m], "IN"
    m = (kind >= 0.95) & (kind < 0.97)  # too short: invalid
    phone[m] = _cat("555-", _digits(rng, n, 3))[m]
    m = kind >= 0.97  # national number, no country
    phone[m], country[m] = _cat("0151 ", _digits(rng, n, 8))[m], None
    absent = rng.random(n) >= 0.65
    phone[absent], country[absent] = None, None
    # -- MAID: 30% present, half upper case, 1% of them zeroed
    raw = rng.integers(0, 2**63, (n, 2), dtype=np.int64)
    maid = np.array([f"{x:016x}"[:8] + "-" + f"{x:016x}"[8:12] + "-4" + f"{x:016x}"[13:16] + "-a"
                     + f"{y:016x}"[1:4] + "-" + f"{y:016x}"[4:16]
                     for x, y in zip(raw[:, 0].tolist(), raw[:, 1].tolist(), strict=True)], dtype=object)
    up = rng.random(n) < 0.5
    maid[up] = np.char.upper(maid[up].astype(str)).astype(object)
    mu = rng.random(n)
    maid[mu < 0.003] = "00000000-0000-0000-0000-000000000000"
    maid[mu >= 0.30] = None
    status = np.where(rng.random(n) < 0.08, "unsubscribed", "subscribed").astype(object)
    return {"contact_id": ids, "email": email, "phone": phone, "phone_country": country,
            "mobile_ad_id": maid, "subscription_status": status}


def _escape(col: np.ndarray) -> list[str]:
    return ["\\N" if v is None else v.replace("\\", "\\\\").replace("\t", " ") for v in col.tolist()]


def _copy_contacts(cursor, cols: dict[str, np.ndarray], table: str = "contacts") -> None:
    lines = "\n".join(
        "\t".join(row)
        for row in zip(cols["contact_id"].astype(str).tolist(), _escape(cols["email"]), _escape(cols["phone"]),
                       _escape(cols["phone_country"]), _escape(cols["mobile_ad_id"]),
                       _escape(cols["subscription_status"]), strict=True)
    )
    cursor.copy_expert(
        f"COPY {table} (contact_id, email, phone, phone_country, mobile_ad_id, subscription_status) FROM STDIN",
        io.StringIO(lines + "\n"),
    )


def build(engine: sa.Engine, contacts: int, *, seed: int = 7, chunk: int = 500_000) -> float:
    """(Re)create the reference schema with ``contacts`` contacts; returns seconds taken."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(SCHEMA)
        for start in range(1, contacts + 1, chunk):
            ids = np.arange(start, min(start + chunk, contacts + 1), dtype=np.int64)
            _copy_contacts(cur, contact_chunk(ids, seed))
        members = np.arange(5, contacts + 1, 20, dtype=np.int64)
        cur.copy_expert("COPY segment_members (segment_id, contact_id) FROM STDIN",
                        io.StringIO("".join(f"2\t{c}\n" for c in members.tolist())))
        for sid, name, criteria in SEGMENTS:
            cur.execute("INSERT INTO segments (segment_id, name, criteria) VALUES (%s, %s, %s)", (sid, name, criteria))
        raw.commit()
        cur.execute("ANALYZE contacts; ANALYZE segment_members")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def churn(engine: sa.Engine, contacts: int, *, seed: int = 7, version: int = 1) -> dict[str, int]:
    """Change 1% of contacts: 0.5% edit identifiers, 0.25% unsubscribe, 0.25% join the static segment.

    Returns how many contacts each kind of change touched.
    """
    edit = np.arange(7, contacts + 1, 200, dtype=np.int64)  # 0.5%
    unsub = np.arange(13, contacts + 1, 400, dtype=np.int64)  # 0.25%, contact_id % 10 == 3: included
    join = np.arange(17, contacts + 1, 400, dtype=np.int64)  # 0.25%, contact_id % 10 == 7: not included yet
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TEMP TABLE edits (contact_id BIGINT, email TEXT, phone TEXT, phone_country TEXT, "
                    "mobile_ad_id TEXT, subscription_status TEXT)")
        cols = contact_chunk(edit, seed, version)
        _copy_contacts(cur, cols, table="edits")
        cur.execute("UPDATE contacts c SET email = e.email, phone = e.phone, phone_country = e.phone_country, "
                    "mobile_ad_id = e.mobile_ad_id FROM edits e WHERE c.contact_id = e.contact_id")
        cur.execute("UPDATE contacts SET subscription_status = 'unsubscribed' "
                    "WHERE contact_id % 400 = 13 AND subscription_status <> 'unsubscribed'")
        cur.copy_expert("COPY segment_members (segment_id, contact_id) FROM STDIN",
                        io.StringIO("".join(f"2\t{c}\n" for c in join.tolist())))
        raw.commit()
    finally:
        raw.close()
    return {"identifier_edits": len(edit), "unsubscribed": len(unsub), "joined_static": len(join)}
