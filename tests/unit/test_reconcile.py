"""Finding what a create whose answer was lost made."""

from __future__ import annotations

from datetime import datetime

from tiktok_audiences.sync.reconcile import find_interrupted_create, parse_tiktok_time

STARTED = datetime(2026, 11, 25, 12, 0, 0)


def audience(audience_id: str, name: str, created: str, audience_type: str = "Customer File Audience") -> dict:
    return {"audience_id": audience_id, "name": name, "create_time": created, "audience_type": audience_type}


def test_an_audience_of_the_name_created_since_the_start_is_adopted():
    found = [audience("1", "VIP", "2026-11-20 08:00:00"), audience("2", "VIP", "2026-11-25 12:00:03")]
    assert find_interrupted_create(found, name="VIP", started_at=STARTED) == "2"


def test_an_older_audience_of_the_same_name_is_not_adopted():
    assert (
        find_interrupted_create([audience("1", "VIP", "2026-11-25 11:40:00")], name="VIP", started_at=STARTED)
        is None
    )


def test_an_audience_of_another_kind_is_not_adopted():
    found = [audience("3", "VIP", "2026-11-25 12:00:01", audience_type="Partner")]
    is_customer_file = lambda details: details["audience_type"] != "Partner"  # noqa: E731
    assert find_interrupted_create(found, name="VIP", started_at=STARTED, accept=is_customer_file) is None


def test_tiktok_time_is_read_as_naive_utc_and_nonsense_as_none():
    assert parse_tiktok_time("2026-11-25 12:00:03") == datetime(2026, 11, 25, 12, 0, 3)
    assert parse_tiktok_time("25/11/2026") is None and parse_tiktok_time(None) is None
