"""How a run ends, and what the audiences table, the run history and the task's summary then say.

One function per outcome: a dry run, Too Small (nothing sent), a sync (read back from TikTok), TikTok
busy (stopped early; the rest next run), and TikTok's refusal to update an audience created with
too few matched users.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tiktok_audiences.metadata import utcnow
from tiktok_audiences.sync.client import TikTokClient
from tiktok_audiences.sync.run import SyncRun
from tiktok_audiences.sync.senders import Sender
from tiktok_audiences.sync.status import (
    MIN_AUDIENCE_SIZE,
    AudienceStatus,
    match_rate,
    resolve_status,
    too_few_matched,
)
from tiktok_audiences.tiktok.errors import TikTokApiError


def dry_run(run: SyncRun) -> dict[str, Any]:
    """Nothing was sent: record the plan in the status message and the run history."""
    plan = run.plan_counts()
    run.notes.insert(
        0, f"Dry run: would {plan['mode']} (+{plan['to_add']} / -{plan['to_remove']} identifiers); nothing sent"
    )
    run.finish(outcome="dry_run", added=plan["to_add"], removed=plan["to_remove"])
    return run.result("dry_run", run.row["status"])


def too_small(run: SyncRun) -> dict[str, Any]:
    """Fewer contacts than TikTok's minimum: nothing is sent (TikTok would refuse it)."""
    run.notes.append(
        f"{run.audience.size} contacts; TikTok needs at least {MIN_AUDIENCE_SIZE:,} matched users and refuses "
        f"creates and updates below that, which fewer contacts cannot reach, so nothing was sent"
    )
    run.record_audience(status=AudienceStatus.TOO_SMALL.value, match_rate=None, last_run_at=utcnow(), last_error=None)
    run.finish(outcome="too_small", added=0, removed=0)
    run.remember_segments()
    return run.result("too_small", AudienceStatus.TOO_SMALL.value)


def busy(run: SyncRun, err: TikTokApiError, log: logging.Logger) -> dict[str, Any]:
    """TikTok refused an update as "being updated or under processing": record what was confirmed."""
    added, removed = run.sent()
    audience_id = run.audience_id or (run.sender.audience_id if run.sender else None)
    waited = getattr(err, "waited_seconds", 0.0)
    run.notes.insert(
        0,
        f"TikTok was still processing an earlier change of audience {audience_id} and refused the next update "
        f"(after waiting {waited:.0f} s): {err}. {added:,} identifier(s) added and {removed:,} removed are "
        f"confirmed on TikTok; the next run sends the rest",
    )
    run.record_audience(status=AudienceStatus.SYNCING.value, last_run_at=utcnow(), last_error=None)
    run.finish(outcome="partial", added=added, removed=removed)
    run.remember_segments()
    log.warning("Stopped early, TikTok still processing: %s", run.message())
    result = run.result("partial", AudienceStatus.SYNCING.value)
    result.update(tiktok_audience_id=audience_id, added=added, removed=removed)
    return result


def too_few_matches(run: SyncRun, err: TikTokApiError) -> dict[str, Any]:
    """TikTok refuses every update of an audience it created with fewer than 1,000 matched users.

    No retry or later run changes that, so the run ends (task success, no retry) as Too Small with
    what the user can do; a full_resync then creates a new TikTok audience in its place.
    """
    added, removed = run.sent()
    run.notes.insert(
        0,
        f"TikTok refuses updates of audience {run.audience_id}: it was created with fewer than "
        f"{MIN_AUDIENCE_SIZE:,} matched TikTok users ({err}), so nothing more was sent. Add contacts TikTok can "
        f"match (emails, phones, mobile ad ids), then run once with full_resync to create a new TikTok audience "
        f"in its place (the old one stays on TikTok until you delete it there)",
    )
    run.record_audience(status=AudienceStatus.TOO_SMALL.value, match_rate=None, last_run_at=utcnow(), last_error=None)
    run.finish(outcome="too_small", added=added, removed=removed)
    run.remember_segments()
    return run.result("too_small", AudienceStatus.TOO_SMALL.value)


def synced(run: SyncRun, client: TikTokClient, sender: Sender, log: logging.Logger) -> dict[str, Any]:
    """Read the audience back from TikTok and record status, match, size and the run."""
    assert run.audience_id is not None
    started = time.perf_counter()
    details = client.get_audience(run.audience_id)
    cover_num = int(details.get("cover_num") or 0)
    is_valid = bool(details.get("is_valid"))
    status = resolve_status(
        size=run.audience.size, tiktok_audience_id=run.audience_id, is_valid=is_valid,
        deleted_segments=run.deleted_segments, cover_num=cover_num,
    )
    rate = match_rate(cover_num, run.audience.size) if is_valid else None
    if too_few_matched(cover_num, is_valid):
        run.notes.append(
            f"TikTok matched {cover_num:,} of {run.audience.size:,} contacts to TikTok users; it needs "
            f"{MIN_AUDIENCE_SIZE:,} matched users to make the audience usable in ad groups, and may refuse "
            f"updates until then. Add contacts or identifiers (e.g. phones) to reach more users"
        )
    if run.deleted_segments:
        run.notes.append(
            f"deleted segment(s) {', '.join(map(str, run.deleted_segments))} keep syncing with their criteria "
            f"or last members; remove them from the audience file"
        )
    now = utcnow()
    run.record_audience(
        status=status.value, cover_num=cover_num, match_rate=rate, is_valid=is_valid,
        tiktok_audience_id=run.audience_id, advertiser_id=client.advertiser_id, calculate_type=sender.calculate_type,
        api=run.api, last_sync_at=now, last_run_at=now, last_error=None,
    )
    run.remember_segments()
    run.timings["record"] = time.perf_counter() - started
    run.finish(outcome="success", added=sender.added, removed=sender.removed, cover_num=cover_num, match_rate=rate)
    result = run.result("success", status.value)
    result.update(
        tiktok_audience_id=run.audience_id, api=run.api, added=sender.added, removed=sender.removed,
        requests=sender.requests, bytes_sent=sender.bytes_sent, cover_num=cover_num, match_rate=rate,
    )
    log.info("Synced: %s", {k: v for k, v in result.items() if k != "invalid"})
    return result
