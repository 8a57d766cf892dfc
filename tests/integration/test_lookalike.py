"""Lookalike audiences end to end: the real DAG with dag.test(), PostgreSQL contacts, the sandbox over HTTP.

What a user cares about: the lookalike TikTok holds (its seed and exact settings), how many there
are, and the status the audiences page shows for it.
"""

from __future__ import annotations

import pytest

from tests.integration.contacts import ContactDatabase

pytestmark = pytest.mark.integration

LOOKALIKE = {"location_ids": ["6252001"], "audience_size": "BALANCED"}


@pytest.fixture
def contacts(audience_env) -> ContactDatabase:
    """1,400 contacts in segment 1: a source TikTok accepts and can seed a lookalike with."""
    db = ContactDatabase(audience_env.contacts)
    db.add_contacts(range(1, 1401))
    db.add_segment(1, "Buyers", criteria="contact_id <= 1400")
    return db


def define(audience_env, **lookalike):
    audience_env.write_audience("buyers", name="Buyers", include_segments=[1], lookalike={**LOOKALIKE, **lookalike})


def lookalikes_on_tiktok(audience_env) -> list[dict]:
    return [a for a in audience_env.sandbox.audiences() if a["audience_type"] == "Lookalike Audience"
            and not a["deleted"]]


def lookalike_creates(audience_env) -> int:
    return sum("lookalike/create" in r["path"] for r in audience_env.sandbox.control("GET", "requests"))


def assert_success(run) -> None:
    assert run.state == "success", f"DAG run ended {run.state}"


def test_source_not_processed_yet_waits_and_sends_nothing(audience_env, contacts):
    audience_env.sandbox.control("POST", "config", json={"processing_seconds": 3600})
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    assert audience_env.audience_row("buyers")["status"] == "Initiating"
    row = audience_env.store().get_lookalike("buyers")
    assert row["status"] == "Waiting for Source" and row["tiktok_audience_id"] is None
    assert "has not processed the source audience" in row["status_message"]
    assert lookalikes_on_tiktok(audience_env) == [] and lookalike_creates(audience_env) == 0


def test_valid_source_gets_a_lookalike_with_exactly_the_defined_settings(audience_env, contacts):
    define(audience_env, include_source=True, mobile_os="ANDROID", placements=["TikTok", "Pangle"])
    assert_success(audience_env.run("buyers"))
    source_id = audience_env.audience_row("buyers")["tiktok_audience_id"]
    [lookalike] = lookalikes_on_tiktok(audience_env)
    assert lookalike["name"] == "Buyers (lookalike)"
    assert lookalike["lookalike_spec"] == {
        "source_audience_id": source_id, "include_source": True, "mobile_os": "ANDROID",
        "placements": ["TikTok", "Pangle"], "location_ids": ["6252001"], "audience_size": "BALANCED",
    }
    row = audience_env.store().get_lookalike("buyers")
    assert row["tiktok_audience_id"] == lookalike["audience_id"] and row["source_audience_id"] == source_id
    assert row["status"] == "Active" and row["cover_num"] == lookalike["cover_num"] > 0  # instant processing here


def test_unchanged_definition_creates_nothing_new(audience_env, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    assert_success(audience_env.run("buyers"))
    assert len(lookalikes_on_tiktok(audience_env)) == 1 and lookalike_creates(audience_env) == 1
    assert audience_env.store().get_lookalike("buyers")["status"] == "Active"


def test_changed_settings_make_a_new_lookalike_and_keep_the_old_one(audience_env, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    old_id = audience_env.store().get_lookalike("buyers")["tiktok_audience_id"]
    define(audience_env, audience_size="BROAD", location_ids=["6252001", "2635167"])
    assert_success(audience_env.run("buyers"))
    row = audience_env.store().get_lookalike("buyers")
    assert row["tiktok_audience_id"] != old_id
    by_id = {a["audience_id"]: a for a in lookalikes_on_tiktok(audience_env)}
    assert set(by_id) == {old_id, row["tiktok_audience_id"]}  # the old one is left for its ad groups
    new_spec = by_id[row["tiktok_audience_id"]]["lookalike_spec"]
    assert new_spec["audience_size"] == "BROAD" and new_spec["location_ids"] == ["2635167", "6252001"]
    assert "audience_size BALANCED → BROAD" in row["status_message"] and old_id in row["status_message"]


def test_create_whose_answer_was_lost_is_adopted_not_repeated(audience_env, contacts):
    define(audience_env)
    # TikTok creates the lookalike, but the answer never arrives.
    audience_env.sandbox.fault(path="dmp/custom_audience/lookalike/create/", http_status=502, after_processing=True)
    assert audience_env.run("buyers").state == "failed"
    assert audience_env.store().get_lookalike("buyers")["status"] == "Failed"
    assert audience_env.audience_row("buyers")["status"] == "Active"  # the sync's result is not hidden
    assert_success(audience_env.run("buyers"))
    [lookalike] = lookalikes_on_tiktok(audience_env)
    row = audience_env.store().get_lookalike("buyers")
    assert row["tiktok_audience_id"] == lookalike["audience_id"] and "adopted" in row["status_message"]
    assert lookalike_creates(audience_env) == 1


def test_lookalike_deleted_on_tiktok_is_created_again(audience_env, contacts):
    from tiktok_audiences.hooks.tiktok import TikTokHook

    define(audience_env)
    assert_success(audience_env.run("buyers"))
    old_id = audience_env.store().get_lookalike("buyers")["tiktok_audience_id"]
    TikTokHook("tiktok_default").delete_audiences([old_id])
    assert_success(audience_env.run("buyers"))
    row = audience_env.store().get_lookalike("buyers")
    assert row["tiktok_audience_id"] not in (None, old_id) and "deleted there" in row["status_message"]
    assert len(lookalikes_on_tiktok(audience_env)) == 1


def test_dry_run_creates_no_lookalike(audience_env, contacts):
    audience_env.write_audience("buyers", name="Buyers", include_segments=[1])  # the source, without a lookalike
    assert_success(audience_env.run("buyers"))
    define(audience_env)
    assert_success(audience_env.run("buyers", dry_run=True))
    assert lookalikes_on_tiktok(audience_env) == [] and lookalike_creates(audience_env) == 0
    assert audience_env.store().get_lookalike("buyers")["status_message"].startswith("Dry run: would create")


def test_lookalike_is_rebuilt_from_a_changed_source_at_most_daily(audience_env, contacts):
    from datetime import timedelta

    from tiktok_audiences.metadata import utcnow

    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("UPDATE segments SET criteria = 'contact_id <= 1300' WHERE segment_id = 1")
    assert_success(audience_env.run("buyers"))  # source changed, but the lookalike was built just now

    def refreshes() -> int:
        return sum("lookalike/update" in r["path"] for r in audience_env.sandbox.control("GET", "requests"))

    assert refreshes() == 0
    audience_env.store().update_lookalike("buyers", built_at=utcnow() - timedelta(days=2))
    assert_success(audience_env.run("buyers"))
    assert refreshes() == 1
    assert "refreshed" in audience_env.store().get_lookalike("buyers")["status_message"]


def test_source_recreated_on_tiktok_gets_a_new_lookalike_from_the_new_seed(audience_env, contacts):
    from tiktok_audiences.hooks.tiktok import TikTokHook

    define(audience_env)
    assert_success(audience_env.run("buyers"))
    old_source = audience_env.audience_row("buyers")["tiktok_audience_id"]
    old_lookalike = audience_env.store().get_lookalike("buyers")["tiktok_audience_id"]
    TikTokHook("tiktok_default").delete_audiences([old_source])  # deleted in TikTok Ads Manager
    assert_success(audience_env.run("buyers"))  # the sync recreates the source, then the lookalike follows
    new_source = audience_env.audience_row("buyers")["tiktok_audience_id"]
    row = audience_env.store().get_lookalike("buyers")
    assert new_source != old_source and row["source_audience_id"] == new_source
    assert row["tiktok_audience_id"] != old_lookalike and "source audience was recreated" in row["status_message"]
    by_id = {a["audience_id"]: a for a in lookalikes_on_tiktok(audience_env)}
    assert by_id[row["tiktok_audience_id"]]["lookalike_spec"]["source_audience_id"] == new_source
