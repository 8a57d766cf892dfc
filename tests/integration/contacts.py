"""A small, clean contact database for integration tests, and the hashes TikTok should hold.

Identifiers here are already in TikTok's normal form (lower-case emails and MAIDs, E.164 phones),
so the expected hashes are plain ``sha256(value)`` computed with hashlib — independent of the
package's own normalization code.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from tiktok_sandbox.demo_data import create_reference_schema


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def email(contact_id: int) -> str:
    return f"user{contact_id}@example.com"


def phone(contact_id: int) -> str:
    return f"+447911{contact_id:06d}"  # UK mobile numbers, valid for libphonenumber


def maid(contact_id: int) -> str:
    return str(uuid.UUID(int=contact_id + 1))


class ContactDatabase:
    """Reference-schema contacts: every contact has an email, even ids a phone, multiples of 3 a MAID."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_reference_schema(engine, drop_existing=True)

    def add_contacts(self, ids: Iterable[int], status: str = "subscribed") -> None:
        rows = [
            {
                "contact_id": i,
                "email": f"  {email(i).upper()} " if i % 5 == 0 else email(i),  # messy: trimmed + lowercased
                "phone": phone(i) if i % 2 == 0 else None,
                "phone_country": "GB",
                "mobile_ad_id": maid(i).upper() if i % 3 == 0 else None,
                "subscription_status": status,
                "updated_at": "2026-10-01 00:00:00",
            }
            for i in ids
        ]
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO contacts (contact_id, email, phone, phone_country, mobile_ad_id, subscription_status, "
                "updated_at) VALUES (:contact_id, :email, :phone, :phone_country, :mobile_ad_id, "
                ":subscription_status, CAST(:updated_at AS TIMESTAMP))"
            ), rows)

    def add_segment(self, segment_id: int, name: str, criteria: str | None = None, members: Iterable[int] = ()) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO segments (segment_id, name, criteria) VALUES (:i, :n, :c)"),
                         {"i": segment_id, "n": name, "c": criteria})
        self.add_members(segment_id, members)

    def add_members(self, segment_id: int, ids: Iterable[int]) -> None:
        rows = [{"s": segment_id, "c": i} for i in ids]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO segment_members (segment_id, contact_id) VALUES (:s, :c)"), rows)

    def remove_members(self, segment_id: int, ids: Iterable[int]) -> None:
        rows = [{"s": segment_id, "c": i} for i in ids]
        if not rows:  # an empty parameter list would be one execution with no values
            return
        with self.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM segment_members WHERE segment_id = :s AND contact_id = :c"), rows)

    def execute(self, statement: str, **params) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(statement), params)


def integration_phone_format() -> str:
    """The phone form the test integration's API sends by default: digits for customer files, E.164
    for the partner API (the ``api`` fixture sets the integration's extra; docs/identifiers.md)."""
    import json
    import os

    raw = os.environ.get("AIRFLOW_CONN_TIKTOK_DEFAULT")
    api = (json.loads(raw).get("extra") or {}).get("api") if raw else None
    return "e164" if api == "partner" else "digits"


def phone_hashes(contact_id: int, phone_format: str | None = None) -> set[str]:
    """The PHONE_SHA256 hashes sent for a contact's phone under ``phone_format`` (default: the integration's)."""
    phone_format = phone_format or integration_phone_format()
    forms = {"digits": [phone(contact_id)[1:]], "e164": [phone(contact_id)],
             "both": [phone(contact_id)[1:], phone(contact_id)]}[phone_format]
    return {sha(form) for form in forms}


def expected_identifiers(ids: Iterable[int], types: Iterable[str] = ("email", "phone", "maid"),
                         phone_format: str | None = None) -> set[tuple[str, str]]:
    """The (id_type, sha256) pairs TikTok must hold for these contacts (as built by add_contacts)."""
    types = set(types)
    expected = set()
    for i in ids:
        if "email" in types:
            expected.add(("email", sha(email(i))))
        if "phone" in types and i % 2 == 0:
            expected.update(("phone", digest) for digest in phone_hashes(i, phone_format))
        if "maid" in types and i % 3 == 0:
            expected.add(("maid", sha(maid(i))))
    return expected


def reference_contacts(engine: sa.Engine) -> ContactDatabase:
    """1,500 contacts; segment 1 = ids ≤ 1200 (criteria), 2 = static 1101..1400, 3 = unsubscribed."""
    db = ContactDatabase(engine)
    db.add_contacts(range(1, 1401))
    db.add_contacts(range(1401, 1501), status="unsubscribed")
    db.add_segment(1, "First 1200", criteria="contact_id <= 1200")
    db.add_segment(2, "Static list", members=range(1101, 1401))
    db.add_segment(3, "Unsubscribed", criteria="subscription_status = 'unsubscribed'")
    return db
