"""The removal guard's verdicts."""

from __future__ import annotations

import pytest

from tiktok_audiences.sync.guards import check_removals, max_removal_share


def verdict(**kwargs):
    args = {"live_identifiers": 3000, "removals": 0, "live_size": 1500, "new_size": 1500, "max_share": 0.3}
    args.update(kwargs)
    return check_removals(**args).blocked


def test_removing_up_to_the_share_is_allowed():
    assert verdict(removals=900) is None


def test_removing_more_than_the_share_is_blocked_with_numbers():
    message = verdict(removals=901)
    assert "901 of 3,000 identifiers" in message and "30% limit" in message


def test_draining_below_1000_is_blocked():
    assert "from 1,500 to 999 contacts" in verdict(new_size=999)


def test_an_audience_already_below_1000_is_not_blocked_again():
    assert verdict(live_size=900, new_size=800) is None


def test_nothing_live_means_nothing_to_protect():
    assert verdict(live_identifiers=0, removals=0, live_size=None, new_size=0) is None


def test_share_is_configurable(monkeypatch):
    monkeypatch.setenv("TIKTOK_AUDIENCES_MAX_REMOVAL_SHARE", "0.5")
    assert max_removal_share() == 0.5
    monkeypatch.setenv("TIKTOK_AUDIENCES_MAX_REMOVAL_SHARE", "half")
    with pytest.raises(ValueError, match="is not a number"):
        max_removal_share()


# TikTok's 1,000 counts matched users (status.MIN_AUDIENCE_SIZE): the guard projects them.


def test_removal_that_would_leave_fewer_than_1000_matched_users_is_blocked():
    # 3,000 contacts, 1,500 matched (50 %); 1,900 contacts left would be ~950 users.
    message = verdict(live_identifiers=6000, removals=1100, live_size=3000, new_size=1900, live_cover_num=1500,
                      max_share=0.5)
    assert "about 950 matched users" in message and "1,000 matched users" in message


def test_removal_that_keeps_1000_matched_users_is_allowed():
    assert verdict(live_identifiers=6000, removals=900, live_size=3000, new_size=2100, live_cover_num=1500,
                   max_share=0.5) is None


def test_without_a_match_count_only_contacts_are_checked():
    assert verdict(live_identifiers=6000, removals=1100, live_size=3000, new_size=1900, max_share=0.5) is None


def test_both_phone_forms_removed_together_keep_the_share():
    # 1,000 contacts with email + both phone forms = 3,000 identifiers; 100 leave = 300 identifiers, 10 %.
    assert verdict(live_identifiers=3000, removals=300, live_size=1000, new_size=1000, max_share=0.1) is None
    assert verdict(live_identifiers=3000, removals=303, live_size=1010, new_size=1000, max_share=0.1) is not None
