"""Lookalike audiences without Airflow: the ``lookalike:`` block, spec fingerprints, and the plan."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tiktok_audiences.definitions import (
    LookalikeDefinition,
    default_lookalike_name,
    load_audiences,
    lookalike_spec_hash,
    parse_audience_file,
)
from tiktok_audiences.sync.lookalike import (
    describe_spec_change,
    find_interrupted_create,
    needs_refresh,
    plan_lookalike,
)

BASE = "name: VIP customers\ninclude_segments: [4]\n"


def parse(tmp_path: Path, block: str, name: str = "vip.yaml"):
    path = tmp_path / name
    path.write_text(BASE + "lookalike:\n" + block)
    return parse_audience_file(path)


def problems_of(tmp_path: Path, block: str) -> list[str]:
    definition, problems = parse(tmp_path, block)
    assert definition is None
    return [str(p) for p in problems]


# -- the lookalike: block ------------------------------------------------------------------------


def test_only_location_ids_are_required_the_rest_has_defaults(tmp_path):
    definition, problems = parse(tmp_path, "  location_ids: ['6252001']\n")
    assert problems == []
    assert definition.lookalike == LookalikeDefinition(
        name="VIP customers (lookalike)", location_ids=("6252001",), audience_size="BALANCED",
        include_source=False, mobile_os="ALL", placements=("TikTok",),
    )
    assert definition.as_dict()["lookalike"] == {
        "name": "VIP customers (lookalike)", "location_ids": ["6252001"], "audience_size": "BALANCED",
        "include_source": False, "mobile_os": "ALL", "placements": ["TikTok"],
    }


def test_audience_without_a_block_has_no_lookalike(tmp_path):
    (tmp_path / "a.yaml").write_text(BASE)
    definition, _ = parse_audience_file(tmp_path / "a.yaml")
    assert definition.lookalike is None and definition.as_dict()["lookalike"] is None


def test_every_setting_is_read_and_normalized(tmp_path):
    definition, problems = parse(
        tmp_path,
        "  name: Lookalike of VIPs\n  location_ids: [6252001, '2635167', '6252001']\n  audience_size: broad\n"
        "  include_source: true\n  mobile_os: ios\n  placements: [pangle, TikTok]\n",
    )
    assert problems == []
    lookalike = definition.lookalike
    assert lookalike.name == "Lookalike of VIPs"
    assert lookalike.location_ids == ("2635167", "6252001")  # strings, once each, sorted
    assert (lookalike.audience_size, lookalike.include_source, lookalike.mobile_os) == ("BROAD", True, "IOS")
    assert lookalike.placements == ("TikTok", "Pangle")  # TikTok's spelling and order
    assert lookalike.tiktok_spec("7300000000000000001") == {
        "source_audience_id": "7300000000000000001", "include_source": True, "mobile_os": "IOS",
        "placements": ["TikTok", "Pangle"], "location_ids": ["2635167", "6252001"], "audience_size": "BROAD",
    }


def test_round_trip_through_the_operator_dict(tmp_path):
    definition, _ = parse(tmp_path, "  location_ids: ['1']\n  audience_size: NARROW\n")
    assert LookalikeDefinition.from_dict(definition.lookalike.as_dict()) == definition.lookalike


def test_missing_location_ids_names_field_and_fix(tmp_path):
    [problem] = problems_of(tmp_path, "  audience_size: BROAD\n")
    assert "vip.yaml: field 'lookalike.location_ids': is missing" in problem and "Fix:" in problem


def test_empty_location_ids_are_refused(tmp_path):
    [problem] = problems_of(tmp_path, "  location_ids: []\n")
    assert "'lookalike.location_ids'" in problem and "non-empty" in problem


@pytest.mark.parametrize(
    "block, field, words",
    [
        ("  location_ids: ['1']\n  audience_size: HUGE\n", "audience_size", "NARROW, BALANCED, BROAD"),
        ("  location_ids: ['1']\n  mobile_os: windows\n", "mobile_os", "ALL, ANDROID, IOS"),
        ("  location_ids: ['1']\n  placements: [Instagram]\n", "placements", "TikTok, TopBuzz & BuzzVideo, Pangle"),
        ("  location_ids: ['1']\n  include_source: maybe\n", "include_source", "true or false"),
        ("  location_ids: [{a: 1}]\n", "location_ids", "not a TikTok location id"),
        ("  location_ids: ['1']\n  name: ''\n", "name", "non-empty"),
        (f"  location_ids: ['1']\n  name: {'x' * 129}\n", "name", "at most 128"),
    ],
)
def test_bad_values_name_the_field(tmp_path, block, field, words):
    [problem] = problems_of(tmp_path, block)
    assert f"field 'lookalike.{field}'" in problem and words in problem


def test_unknown_key_suggests_the_right_one(tmp_path):
    [problem] = problems_of(tmp_path, "  location_ids: ['1']\n  audience_sise: BROAD\n")
    assert "'lookalike.audience_sise': is not a known lookalike field" in problem
    assert "did you mean 'audience_size'" in problem


def test_block_must_be_a_mapping(tmp_path):
    path = tmp_path / "vip.yaml"
    path.write_text(BASE + "lookalike: yes please\n")
    definition, [problem] = parse_audience_file(path)
    assert definition is None and "field 'lookalike': must be a mapping" in str(problem)


def test_default_name_fits_tiktoks_limit():
    name = default_lookalike_name("y" * 128)
    assert len(name) == 128 and name.endswith(" (lookalike)")


def test_lookalike_name_may_not_be_another_audiences_name(tmp_path):
    (tmp_path / "a.yaml").write_text("name: Buyers\ninclude_segments: [1]\n")
    (tmp_path / "b.yaml").write_text(
        "name: VIP\ninclude_segments: [2]\nlookalike:\n  name: buyers\n  location_ids: ['1']\n"
    )
    definitions, problems = load_audiences(tmp_path)
    assert [d.key for d in definitions] == ["a"]
    assert "b.yaml: field 'lookalike.name': 'buyers' is also used by a.yaml" in str(problems[0])


# -- spec fingerprint and the plan ------------------------------------------------------------------

SPEC = {"audience_size": "BALANCED", "include_source": False, "location_ids": ["1", "2"], "mobile_os": "ALL",
        "placements": ["TikTok"]}


def test_spec_hash_ignores_order_and_sees_every_setting():
    assert lookalike_spec_hash(SPEC) == lookalike_spec_hash({**SPEC, "location_ids": ["2", "1"]})
    for change in ({"audience_size": "BROAD"}, {"include_source": True}, {"location_ids": ["1"]},
                   {"mobile_os": "IOS"}, {"placements": ["TikTok", "Pangle"]}):
        assert lookalike_spec_hash({**SPEC, **change}) != lookalike_spec_hash(SPEC), change


def recorded(**overrides):
    return {"tiktok_audience_id": "L1", "advertiser_id": "A", "source_audience_id": "S1",
            "spec": SPEC, "spec_hash": lookalike_spec_hash(SPEC), **overrides}


def test_no_lookalike_yet_is_created():
    assert plan_lookalike(None, spec=SPEC, source_audience_id="S1", advertiser_id="A").action == "create"
    assert plan_lookalike(recorded(tiktok_audience_id=None), spec=SPEC, source_audience_id="S1",
                          advertiser_id="A").action == "create"


def test_unchanged_lookalike_is_only_checked():
    assert plan_lookalike(recorded(), spec=SPEC, source_audience_id="S1", advertiser_id="A").action == "check"


def test_changed_settings_rebuild_it_saying_what_changed():
    plan = plan_lookalike(recorded(), spec={**SPEC, "audience_size": "BROAD"}, source_audience_id="S1",
                          advertiser_id="A")
    assert plan.action == "rebuild" and "audience_size BALANCED → BROAD" in plan.reason


def test_recreated_source_or_other_ad_account_rebuild_it():
    plan = plan_lookalike(recorded(), spec=SPEC, source_audience_id="S2", advertiser_id="A")
    assert plan.action == "rebuild" and "source audience was recreated" in plan.reason
    plan = plan_lookalike(recorded(), spec=SPEC, source_audience_id="S1", advertiser_id="B")
    assert plan.action == "rebuild" and "advertiser B" in plan.reason


def test_describe_spec_change_reads_the_stored_json():
    import json

    assert describe_spec_change(json.dumps(SPEC), {**SPEC, "location_ids": ["3"]}) == "location_ids [1, 2] → [3]"
    assert describe_spec_change(None, SPEC) == "settings not recorded before"


NOW = datetime(2026, 5, 1, 12, 0)


def test_refresh_only_after_the_source_changed_and_at_most_daily():
    built = NOW - timedelta(days=2)
    assert needs_refresh(built_at=built, source_changed_at=NOW - timedelta(hours=1), now=NOW)
    assert not needs_refresh(built_at=built, source_changed_at=built - timedelta(hours=1), now=NOW)
    assert not needs_refresh(built_at=built, source_changed_at=None, now=NOW)
    recent = NOW - timedelta(hours=3)
    assert not needs_refresh(built_at=recent, source_changed_at=NOW - timedelta(hours=1), now=NOW)


def test_interrupted_create_is_found_by_name_type_and_time():
    started = NOW
    audiences = [
        {"audience_id": "1", "name": "VIP (lookalike)", "audience_type": "Lookalike Audience",
         "create_time": "2026-05-01 10:00:00"},  # an older one with the same name
        {"audience_id": "2", "name": "VIP (lookalike)", "audience_type": "Customer File Audience",
         "create_time": "2026-05-01 12:00:01"},
        {"audience_id": "3", "name": "VIP (lookalike)", "audience_type": "Lookalike Audience",
         "create_time": "2026-05-01 12:00:02"},
    ]
    assert find_interrupted_create(audiences, name="VIP (lookalike)", started_at=started) == "3"
    assert find_interrupted_create(audiences[:2], name="VIP (lookalike)", started_at=started) is None
