"""The typed definitions themselves: plain values that survive the copies Airflow makes of them."""

from __future__ import annotations

import copy
import pickle

from tiktok_audiences.definitions import parse_audience_file

FULL = """\
name: VIP customers
include_segments: [1, 2]
exclude_segments: [3]
schedule: "0 6 * * *"
alerts: {events: [failed], email: {to: [ops@example.com]}, slack: true}
lookalike: {location_ids: ["6252001"], placements: [TikTok, Pangle]}
normalization: {phone_format: both}
retention_in_days: 30
"""


def test_definition_survives_pickle_and_deepcopy(tmp_path):
    # Airflow deep-copies operator arguments, and the definition itself is handed to the operators.
    path = tmp_path / "vip.yaml"
    path.write_text(FULL)
    definition, problems = parse_audience_file(path)
    assert problems == []
    for copied in (pickle.loads(pickle.dumps(definition)), copy.deepcopy(definition)):
        assert copied == definition
        assert hash(copied) == hash(definition)
        assert copied.as_dict() == definition.as_dict()
        assert copied.alerts == definition.alerts and copied.raw == definition.raw  # not part of ==
        assert copied.lookalike == definition.lookalike and copied.dag_id == definition.dag_id
