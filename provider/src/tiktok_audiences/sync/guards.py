"""Safety checks that stop a run before it sends a change nobody meant to make.

An upstream bug — an emptied segment table, a criteria typo — looks exactly like "everyone left the
audience". Removing a large share of a live audience, or draining it below TikTok's minimum, is
therefore refused until a person re-runs with ``allow_large_removal``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tiktok_audiences.sync.status import MIN_AUDIENCE_SIZE

MAX_REMOVAL_SHARE_ENV = "TIKTOK_AUDIENCES_MAX_REMOVAL_SHARE"
DEFAULT_MAX_REMOVAL_SHARE = 0.30


def max_removal_share() -> float:
    """The configured share (``$TIKTOK_AUDIENCES_MAX_REMOVAL_SHARE``, default 0.30)."""
    raw = os.environ.get(MAX_REMOVAL_SHARE_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_REMOVAL_SHARE
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{MAX_REMOVAL_SHARE_ENV}={raw!r} is not a number; set it to a share such as 0.3") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{MAX_REMOVAL_SHARE_ENV}={raw!r} must be between 0 and 1, e.g. 0.3 for 30%")
    return value


@dataclass(frozen=True)
class RemovalCheck:
    """The verdict on a planned removal; ``blocked`` carries the message for the user."""

    blocked: str | None


def check_removals(
    *,
    live_identifiers: int,
    removals: int,
    live_size: int | None,
    new_size: int,
    max_share: float,
    min_size: int = MIN_AUDIENCE_SIZE,
    live_cover_num: int | None = None,
) -> RemovalCheck:
    """Refuse removing more than ``max_share`` of a live audience or draining it below ``min_size``.

    TikTok's minimum counts matched users (see :data:`tiktok_audiences.sync.status.MIN_AUDIENCE_SIZE`), so
    besides the contact count the check projects TikTok's matched users at the audience's last match
    rate: ``live_cover_num × new_size / live_size``. Shares are of identifiers: a contact sent with
    both phone forms has both removed together, which leaves the share unchanged.

    :param live_identifiers: identifiers confirmed on TikTok now
    :param removals: identifiers the run would remove
    :param live_size: contacts in the audience at its last sync (None if never synced)
    :param new_size: contacts in the audience now
    :param live_cover_num: TikTok's matched users at the last sync, when TikTok had made the audience valid
    """
    if live_identifiers == 0:
        return RemovalCheck(None)  # nothing live to protect
    share = removals / live_identifiers
    if share > max_share:
        return RemovalCheck(
            f"the run would remove {removals:,} of {live_identifiers:,} identifiers on TikTok ({share:.0%}), "
            f"more than the {max_share:.0%} limit; nothing was sent. If this is intended, re-run with "
            f"allow_large_removal=true (or raise {MAX_REMOVAL_SHARE_ENV})"
        )
    if live_size is not None and live_size >= min_size > new_size:
        return RemovalCheck(
            f"the audience would shrink from {live_size:,} to {new_size:,} contacts, below TikTok's minimum of "
            f"{min_size:,}; nothing was sent. If this is intended, re-run with allow_large_removal=true "
            f"(the audience is then reported Too Small and TikTok keeps its current members)"
        )
    if live_cover_num and live_size and live_cover_num >= min_size and new_size < live_size:
        projected = int(live_cover_num * new_size / live_size)
        if projected < min_size:
            return RemovalCheck(
                f"the audience would shrink from {live_size:,} to {new_size:,} contacts; at its match rate TikTok "
                f"would then hold about {projected:,} matched users (now {live_cover_num:,}), below TikTok's "
                f"minimum of {min_size:,} matched users, and TikTok refuses updates that leave fewer; nothing was "
                f"sent. If this is intended, re-run with allow_large_removal=true"
            )
    return RemovalCheck(None)
