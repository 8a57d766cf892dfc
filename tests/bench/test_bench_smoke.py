"""CI smoke run of the benchmark harness (bench/bench.py) at 100,000 contacts: correctness, not time.

The same harness as ``make bench`` — COPY-generated reference schema, each task as its own process
calling the operator's execute(), the sandbox over HTTP — checks after each scenario that TikTok
holds exactly the expected member set (computed here, contact by contact, with the scalar
normalizers), that a no-change sync sends nothing and that an incremental sync sends at most
1.05× the identifiers that changed — with the identifier cache on, so TikTok's set after the churn
also proves that reused hashes equal a full re-hash.
"""

from __future__ import annotations

import sys

import pytest
import sqlalchemy as sa

from tests.fixtures import PROJECT_DIR

pytestmark = pytest.mark.integration

CONTACTS = 100_000


def expected_members(engine: sa.Engine) -> set[tuple[str, str]]:
    """include [1, 2] − exclude [3], contact and identifier level, from the raw rows."""
    from tiktok_audiences.members import InvalidIdentifier, hash_identifier

    def hashes(row) -> set[tuple[str, str]]:
        found = set()
        for id_type, value in (("email", row.email), ("phone", row.phone), ("maid", row.mobile_ad_id)):
            if value is None or not value.strip():
                continue
            try:
                found.add((id_type, hash_identifier(id_type, value, row.phone_country)))
            except InvalidIdentifier:
                pass
        return found

    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT contact_id, email, phone, phone_country, mobile_ad_id, subscription_status, "
            "(contact_id % 10 < 5 OR contact_id IN (SELECT contact_id FROM segment_members WHERE segment_id = 2)) "
            "AS included FROM contacts")).all()
    blocked = set().union(*(hashes(r) for r in rows if r.subscription_status == "unsubscribed"))
    kept = set().union(*(hashes(r) for r in rows if r.included and r.subscription_status != "unsubscribed"))
    return kept - blocked


def test_benchmark_harness_syncs_exactly_what_changed(postgres_admin, tmp_path):
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    import bench

    sandbox = bench.start_sandbox(latency=0.0, qps_limit=1000)
    try:
        result = bench.run_size(CONTACTS, postgres_admin, sandbox, latency=0.0, profile=False, out=tmp_path,
                                expected=expected_members)
    finally:
        sandbox.stop()
    assert result["checks"], "the harness ran no checks"
    failed = [name for name, ok in result["checks"].items() if not ok]
    assert not failed, failed
    by = {r["scenario"]: r for r in result["scenarios"]}
    assert by["nochange"]["sent_identifiers"] == 0 and by["nochange"]["bytes_sent"] == 0
    assert 0 < by["incremental"]["changed_identifiers"]
    assert by["incremental"]["sent_identifiers"] <= 1.05 * by["incremental"]["changed_identifiers"]
    assert by["naive_replace"]["sent_identifiers"] == by["naive_replace"]["identifiers"]
    # The incremental and no-change runs reused the cache: only new and changed contacts were hashed.
    for scenario in ("incremental", "nochange"):
        cache = by[scenario]["identifier_cache"]["include"]
        assert cache["state"] == "warm" and cache["hashed"] <= 0.02 * CONTACTS, (scenario, cache)
