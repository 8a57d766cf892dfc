"""With the identifier cache, TikTok still ends up with exactly the expected member set.

Runs the real DAG (dag.test()) against PostgreSQL and the sandbox; expected sets are computed
independently (hashlib over values already in TikTok's normal form, tests/integration/contacts.py).
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.contacts import (
    ContactDatabase,
    email,
    expected_identifiers,
    maid,
    phone,
    reference_contacts,
    sha,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "identifier-cache"
    monkeypatch.setenv("TIKTOK_AUDIENCES_CACHE_URL", f"file://{folder}")
    return folder


@pytest.fixture
def contacts(audience_env) -> ContactDatabase:
    """The reference contacts; the audience Buyers = segments 1 and 2 minus 3."""
    db = reference_contacts(audience_env.contacts)
    audience_env.write_audience("buyers", name="Buyers", include_segments=[1, 2], exclude_segments=[3])
    return db


def tiktok_members(audience_env) -> set[tuple[str, str]]:
    return audience_env.sandbox.members(audience_env.audience_row("buyers")["tiktok_audience_id"])


def churn(db: ContactDatabase) -> set[tuple[str, str]]:
    """Identifier edits and membership changes; returns the member set TikTok must then hold."""
    db.execute("UPDATE contacts SET email = 'moved-' || contact_id || '@example.org' WHERE contact_id IN (10, 20)")
    db.execute("UPDATE contacts SET phone = '+447911005030' WHERE contact_id = 30")  # UK, valid
    db.execute("UPDATE contacts SET phone = NULL, mobile_ad_id = NULL WHERE contact_id = 36")
    db.execute("UPDATE contacts SET mobile_ad_id = :m WHERE contact_id = 40", m=maid(99_999))
    db.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id IN (50, 51)")
    db.remove_members(2, range(1301, 1311))
    db.execute("UPDATE contacts SET subscription_status = 'subscribed' WHERE contact_id = 1450")
    db.add_members(2, [1450])
    ids = [*(i for i in range(1, 1401) if i not in (50, 51) and not 1301 <= i <= 1310), 1450]
    expected = expected_identifiers(ids)
    expected -= {("email", sha(email(10))), ("email", sha(email(20))), ("phone", sha(phone(30)[1:])),
                 ("phone", sha(phone(36)[1:])), ("maid", sha(maid(36)))}
    expected |= {("email", sha("moved-10@example.org")), ("email", sha("moved-20@example.org")),
                 ("phone", sha("447911005030")), ("maid", sha(maid(99_999)))}  # customer-file default: digits
    return expected


def test_changed_identifiers_and_membership_reach_tiktok_with_the_cache(audience_env, contacts, cache_dir, capfd):
    assert audience_env.run("buyers").state == "success"
    assert (cache_dir / "buyers" / "include" / "manifest.json").exists()
    expected = churn(contacts)
    assert audience_env.run("buyers").state == "success"
    assert tiktok_members(audience_env) == expected
    assert "include warm" in "".join(capfd.readouterr())  # the second run reused hashes


def test_cache_from_an_older_normalization_version_is_not_used(audience_env, contacts, cache_dir):
    assert audience_env.run("buyers").state == "success"
    folder = cache_dir / "buyers" / "include"
    # Make the cache look like one written under older rules whose hashes differ from today's:
    # if it were used, TikTok would receive those hashes.
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["key"]["normalization"] -= 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    members_path = folder / f"{manifest['generation']}-members.parquet"
    table = pq.read_table(members_path)
    stale = pa.array([k[:1] + hashlib.sha256(b"old rules" + k).digest() for k in table.column("key").to_pylist()],
                     type=table.schema.field("key").type)
    pq.write_table(table.set_column(table.schema.get_field_index("key"), "key", stale), members_path)

    expected = churn(contacts)
    assert audience_env.run("buyers").state == "success"
    assert tiktok_members(audience_env) == expected
