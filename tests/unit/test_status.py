"""The status a user sees after a successful run, and the match rate."""

from __future__ import annotations

import pytest

from tiktok_audiences.sync.status import STATUS_EXPLANATIONS, AudienceStatus, match_rate, resolve_status


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"size": 999, "tiktok_audience_id": "1", "is_valid": True}, AudienceStatus.TOO_SMALL),
        ({"size": 999, "tiktok_audience_id": None, "is_valid": None}, AudienceStatus.TOO_SMALL),
        (
            {"size": 5000, "tiktok_audience_id": "1", "is_valid": True, "deleted_segments": [7]},
            AudienceStatus.DELETED_SEGMENT,
        ),
        ({"size": 5000, "tiktok_audience_id": None, "is_valid": None}, AudienceStatus.PENDING),
        ({"size": 5000, "tiktok_audience_id": "1", "is_valid": False}, AudienceStatus.INITIATING),
        ({"size": 1000, "tiktok_audience_id": "1", "is_valid": True}, AudienceStatus.ACTIVE),
        # TikTok counts matched users: 5,000 contacts that TikTok matched to 720 users stay unusable.
        ({"size": 5000, "tiktok_audience_id": "1", "is_valid": False, "cover_num": 720}, AudienceStatus.TOO_SMALL),
        # cover_num 0 is also what TikTok shows while processing: still Initiating.
        ({"size": 5000, "tiktok_audience_id": "1", "is_valid": False, "cover_num": 0}, AudienceStatus.INITIATING),
        ({"size": 5000, "tiktok_audience_id": "1", "is_valid": True, "cover_num": 2400}, AudienceStatus.ACTIVE),
        # Records do not count: 600 contacts sent with three identifiers each are still Too Small.
        ({"size": 600, "tiktok_audience_id": None, "is_valid": None, "cover_num": None}, AudienceStatus.TOO_SMALL),
    ],
)
def test_resolve_status(kwargs, expected):
    assert resolve_status(**kwargs) is expected


def test_every_status_has_the_briefs_explanation():
    assert set(STATUS_EXPLANATIONS) == set(AudienceStatus)
    assert [s.value for s in AudienceStatus] == [
        "Pending", "Initiating", "Syncing", "Active", "Too Small", "Failed", "Deleted Segment",
    ]


def test_match_rate_is_cover_num_over_size():
    assert match_rate(620, 1000) == pytest.approx(0.62)
    assert match_rate(None, 1000) is None
    assert match_rate(10, 0) is None
