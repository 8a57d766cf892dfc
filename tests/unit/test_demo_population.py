"""The demo's Match is TikTok's count of matched *users* divided by the audience's contacts.

The demo registers one TikTok user per contact with the sandbox (hashes only); an audience sent
as the sync task sends it then has Match = cover_num / Size, at most 100 %, equal to the share of
its people on TikTok as an independent count (written from docs/sandbox.md, not the sandbox's
code) finds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from tiktok_audiences.members import InvalidIdentifier, Normalization, hash_identifiers, hash_members
from tiktok_audiences.sync.status import match_rate
from tiktok_sandbox import SandboxConfig, SandboxServer
from tiktok_sandbox.demo_data import DEMO_SEGMENTS, build_demo_database, population_hashes, register_population

CONTACTS = 5_000
RATE = 0.6
ADVERTISER = "7200000000000000001"
TOKEN = {"Access-Token": "sandbox-access-token-0001"}
RAW_COLUMNS = {"email": "email", "phone": "phone", "maid": "mobile_ad_id"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'contacts.db'}")
    build_demo_database(engine, contacts=CONTACTS)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(processing_seconds=0.0, match_rate=RATE, qps_limit=0)) as server:
        yield server


def people(hashes: dict[int, set[str]]) -> dict[int, int]:
    """contact_id -> person, worked out independently of the sandbox: contacts sharing an
    identifier (the same mailbox, a household phone) are one TikTok account."""
    parent = {cid: cid for cid in hashes}

    def find(cid: int) -> int:
        while parent[cid] != cid:
            cid = parent[cid]
        return cid

    holder: dict[str, int] = {}
    for cid, own in hashes.items():
        for value in own:
            if value in holder:
                parent[find(cid)] = find(holder[value])
            else:
                holder[value] = cid
    return {cid: find(cid) for cid in parent}


def identifier_hashes(contacts: pd.DataFrame) -> dict[int, set[str]]:
    """Every hash TikTok stores for each contact: email, phone (digits and E.164 with +), MAID."""
    both = Normalization(phone_format="both")
    found: dict[int, set[str]] = {}
    for row in contacts.itertuples(index=False):
        hashes = set()
        for id_type, column in RAW_COLUMNS.items():
            value = getattr(row, column)
            if not isinstance(value, str) or not value.strip():
                continue
            try:
                hashes.update(hash_identifiers(id_type, value, row.phone_country, both))
            except InvalidIdentifier:
                continue
        found[row.contact_id] = hashes
    return found


def test_demo_match_is_the_share_of_its_people_on_tiktok(engine: sa.Engine, sandbox: SandboxServer) -> None:
    registered = register_population(sandbox.url, population_hashes(engine))
    with engine.connect() as conn:
        contacts = pd.read_sql(sa.text("SELECT * FROM contacts ORDER BY contact_id"), conn)
        # The demo's "North America subscribers": segments 1 or 2, minus suppression list 6.
        criteria = " OR ".join(f"({s.criteria})" for s in DEMO_SEGMENTS if s.segment_id in (1, 2))
        audience_ids = set(pd.read_sql(sa.text(
            f"SELECT contact_id FROM contacts WHERE ({criteria}) "
            "AND contact_id NOT IN (SELECT contact_id FROM segment_members WHERE segment_id = 6)"), conn)["contact_id"])

    # Send the audience as the sync task does: the client's hashes in a customer file.
    members = hash_members(contacts[contacts["contact_id"].isin(audience_ids)]).members
    size = members["contact_id"].nunique()
    cells = members.pivot(index="contact_id", columns="id_type", values="id_hash").fillna("")
    rows = [",".join(r) for r in cells[["email", "phone", "maid"]].itertuples(index=False)]
    content = ("EMAIL_SHA256,PHONE_SHA256,MAID_SHA256\n" + "\n".join(rows) + "\n").encode()
    api = f"{sandbox.url}/open_api/v1.3/dmp/custom_audience"
    upload = requests.post(f"{api}/file/upload/", headers=TOKEN, timeout=30, data={
        "advertiser_id": ADVERTISER, "calculate_type": "MULTIPLE_TYPES",
        "file_signature": hashlib.md5(content).hexdigest()}, files={"file": ("na.csv", content, "text/csv")}).json()
    created = requests.post(f"{api}/create/", headers=TOKEN, timeout=30, json={
        "advertiser_id": ADVERTISER, "custom_audience_name": "North America subscribers",
        "calculate_type": "MULTIPLE_TYPES", "file_paths": [upload["data"]["file_path"]]}).json()
    audience_id = created["data"]["custom_audience_id"]
    details = requests.get(f"{api}/get/", headers=TOKEN, timeout=30, params={
        "advertiser_id": ADVERTISER, "custom_audience_ids": json.dumps([audience_id])}).json()
    cover_num = details["data"]["list"][0]["audience_details"]["cover_num"]
    match = match_rate(cover_num, size)

    hashes = identifier_hashes(contacts)
    person = people(hashes)
    keys: dict[int, str] = {}  # person -> smallest hash: the documented draw decides who is on TikTok
    for cid, own in hashes.items():
        if own:
            keys[person[cid]] = min([*own, keys.get(person[cid], max(own))])
    assert registered == len(keys)
    on_tiktok = {p for p, key in keys.items() if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32 < RATE}
    in_audience = set(members["contact_id"])
    users_found = {person[cid] for cid in in_audience} & on_tiktok

    assert match is not None and match <= 1.0
    assert cover_num == len(users_found)
    assert match == pytest.approx(RATE, abs=0.05)
    # Two contacts of one person (the same email on both) are one TikTok user, so Match sits a
    # little below the share of contacts whose person is on TikTok, never above it.
    contacts_found = sum(person[cid] in on_tiktok for cid in in_audience) / size
    assert match <= contacts_found < match + 0.05


def _phone_audience_cover_num(sandbox: SandboxServer, members: pd.DataFrame, name: str) -> int:
    content = ("PHONE_SHA256\n" + "\n".join(members["id_hash"]) + "\n").encode()
    api = f"{sandbox.url}/open_api/v1.3/dmp/custom_audience"
    upload = requests.post(f"{api}/file/upload/", headers=TOKEN, timeout=30, data={
        "advertiser_id": ADVERTISER, "calculate_type": "PHONE_SHA256",
        "file_signature": hashlib.md5(content).hexdigest()},
        files={"file": (f"{name}.csv", content, "text/csv")}).json()
    created = requests.post(f"{api}/create/", headers=TOKEN, timeout=30, json={
        "advertiser_id": ADVERTISER, "custom_audience_name": name, "calculate_type": "PHONE_SHA256",
        "file_paths": [upload["data"]["file_path"]]}).json()
    details = requests.get(f"{api}/get/", headers=TOKEN, timeout=30, params={
        "advertiser_id": ADVERTISER, "custom_audience_ids": json.dumps([created["data"]["custom_audience_id"]])}).json()
    return details["data"]["list"][0]["audience_details"]["cover_num"]


def test_phone_forms_reach_the_same_users(engine: sa.Engine, sandbox: SandboxServer) -> None:
    """digits (the customer-file default), e164 and both reach the same people: both forms of one
    phone are one TikTok user, so sending both adds records, not users (nor Match)."""
    register_population(sandbox.url, population_hashes(engine))
    with engine.connect() as conn:
        contacts = pd.read_sql(sa.text("SELECT * FROM contacts ORDER BY contact_id"), conn)
    covers = {}
    for phone_format in ("digits", "e164", "both"):
        members = hash_members(contacts, identifiers=["phone"],
                               normalization=Normalization(phone_format=phone_format)).members
        covers[phone_format] = _phone_audience_cover_num(sandbox, members, f"phones {phone_format}")
        records = len(members)
        size = members["contact_id"].nunique()
        # One record per contact, or two with "both" (a pre-hashed phone exists in one form only).
        assert records == size if phone_format != "both" else size < records <= 2 * size
    assert covers["digits"] == covers["e164"] == covers["both"] > 0
