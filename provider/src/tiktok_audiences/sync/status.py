"""Audience statuses exactly as the product brief defines them, and the rules that pick one."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

#: TikTok's minimum, in matched users: an APPEND/REMOVE/REPLACE "will fail if the audience size is less
#: than 1,000 after the operation" (yml_files/dmp_custom_audience_update.yml), and TikTok's audience size
#: is matched users — its return codes list 40002 for an audience "created with an audience size of 0
#: (less than 1000 matches were found)", and targeting needs "1,000 total matched users"
#: (https://ads.tiktok.com/help/article/custom-audiences). Records sent do not count: two phone forms or
#: three identifiers of one person are one user. Locally it is checked two ways (docs/identifiers.md):
#: fewer contacts than this cannot make as many users, and TikTok's own count once it reported one.
MIN_AUDIENCE_SIZE = 1000


class AudienceStatus(StrEnum):
    PENDING = "Pending"
    INITIATING = "Initiating"
    SYNCING = "Syncing"
    ACTIVE = "Active"
    TOO_SMALL = "Too Small"
    FAILED = "Failed"
    DELETED_SEGMENT = "Deleted Segment"


#: The brief's explanation of each status (shown as the tooltip on the audiences page).
STATUS_EXPLANATIONS: dict[AudienceStatus, str] = {
    AudienceStatus.PENDING: "The audience has not yet been sent to TikTok.",
    AudienceStatus.INITIATING: (
        "The audience was sent to TikTok but TikTok has not processed it yet, so it cannot be used "
        "in ad targeting. An initial sync may take up to 48 hours."
    ),
    AudienceStatus.SYNCING: "The audience is sending updated contacts to TikTok.",
    AudienceStatus.ACTIVE: "The audience was recently sent to TikTok and is up to date.",
    AudienceStatus.TOO_SMALL: (
        "Below TikTok's minimum of 1,000 matched users: fewer than 1,000 contacts (nothing is sent), or "
        "TikTok matched fewer than 1,000 of them to its users; the status message says which and what to do."
    ),
    AudienceStatus.FAILED: (
        "An error occurred when syncing the audience. Consider re-authenticating the integration "
        "if more than one audience has failed."
    ),
    AudienceStatus.DELETED_SEGMENT: (
        "A segment used by the audience was deleted. The audience keeps syncing: contacts who meet "
        "the deleted segment's criteria (or its last members) continue to sync."
    ),
}


def resolve_status(
    *,
    size: int,
    tiktok_audience_id: str | None,
    is_valid: bool | None,
    deleted_segments: Sequence[int] = (),
    min_size: int = MIN_AUDIENCE_SIZE,
    cover_num: int | None = None,
) -> AudienceStatus:
    """The status after a successful run (Failed and Syncing are set by the run itself).

    Order matters: Too Small first (nothing is sent, whatever else holds), then Deleted Segment
    (the user must act on it even though syncing continues), then where TikTok is in its lifecycle.
    Too Small also covers an audience TikTok has matched (``cover_num`` above 0) to fewer than
    ``min_size`` users without making it valid: TikTok counts matched users, not contacts.
    """
    if size < min_size or too_few_matched(cover_num, is_valid, min_size):
        return AudienceStatus.TOO_SMALL
    if deleted_segments:
        return AudienceStatus.DELETED_SEGMENT
    if not tiktok_audience_id:
        return AudienceStatus.PENDING
    if not is_valid:
        return AudienceStatus.INITIATING
    return AudienceStatus.ACTIVE


def too_few_matched(cover_num: int | None, is_valid: bool | None, min_size: int = MIN_AUDIENCE_SIZE) -> bool:
    """Whether TikTok reported matching some, but fewer than ``min_size``, users and kept the audience invalid.

    ``cover_num`` 0 is not counted: it is also what TikTok shows while it is still processing.
    """
    return cover_num is not None and cover_num > 0 and not is_valid and int(cover_num) < min_size


def match_rate(cover_num: int | None, size: int | None) -> float | None:
    """TikTok's matched users (``cover_num``) divided by the audience size; None when unknown."""
    if cover_num is None or not size:
        return None
    return cover_num / size
