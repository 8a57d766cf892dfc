"""Finding on TikTok what a create whose answer was lost made (pure Python, no Airflow import).

TikTok has no idempotency keys, so a create is never retried blindly: its start time is recorded
first, and the next run looks for an audience of the right name and kind created since then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

#: Clock difference tolerated between TikTok's create_time and our record of the create's start.
CLOCK_SLACK = timedelta(minutes=5)


def parse_tiktok_time(value: Any) -> datetime | None:
    """TikTok's ``YYYY-MM-DD HH:MM:SS`` (UTC) as a naive datetime, or None."""
    if not value:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def find_interrupted_create(
    audiences: Iterable[Mapping[str, Any]],
    *,
    name: str,
    started_at: datetime,
    accept: Callable[[Mapping[str, Any]], bool] = lambda details: True,
    slack: timedelta = CLOCK_SLACK,
) -> str | None:
    """The id of the audience a lost create made: same name, accepted kind, created since it started.

    An audience without a readable ``create_time`` counts as new enough: losing a create is worse
    than adopting an audience of the same name and kind.
    """
    since = started_at - slack
    for details in audiences:
        if details.get("name") != name or not accept(details):
            continue
        created = parse_tiktok_time(details.get("create_time"))
        if created is None or created >= since:
            return str(details["audience_id"])
    return None
