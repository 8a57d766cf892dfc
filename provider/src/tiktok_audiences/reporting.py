"""What the page and the CLI show about audiences: one row per audience, one per lookalike.

The audiences page (:mod:`tiktok_audiences.ui`) renders these rows as HTML, the
``tiktok-audiences table`` command (:mod:`tiktok_audiences.cli`) as text or JSON, so both say the
same: name, status and its explanation, size, match rate, when it last synced ("3 hours ago").
No FastAPI, no HTML, no printing here.

May import: :mod:`tiktok_audiences.sync.status` and :mod:`tiktok_audiences.sync.lookalike` (the
statuses and their explanations); the metadata store only as a type. Never the ui or cli rooms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tiktok_audiences.sync.status import STATUS_EXPLANATIONS, AudienceStatus

if TYPE_CHECKING:
    from tiktok_audiences.metadata import AudienceStore


def elapsed(then: datetime, now: datetime) -> str:
    """'just now', '5 minutes ago', '3 hours ago', '2 days ago'."""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def explanation(status: str) -> str:
    """The brief's explanation of an audience status; empty for a status it does not define."""
    try:
        return STATUS_EXPLANATIONS[AudienceStatus(status)]
    except ValueError:
        return ""


def definition_of(row: dict[str, Any]) -> dict[str, Any]:
    """The audience's definition as registered from its file (``audiences.definition``)."""
    try:
        return json.loads(row["definition"] or "{}")
    except ValueError:
        return {}


@dataclass(frozen=True)
class AudienceRow:
    key: str
    dag_id: str
    name: str
    integration: str
    match: float | None  # percent
    size: int | None
    status: str
    explanation: str
    last_sync: str  # "3 hours ago" or "never"
    last_sync_at: datetime | None
    message: str | None
    file: str | None


def audience_row(row: dict[str, Any], now: datetime) -> AudienceRow:
    """An ``audiences`` row as users see it."""
    definition = definition_of(row)
    return AudienceRow(
        key=row["audience_key"],
        dag_id=row["dag_id"],
        name=row["name"],
        integration=row["integration"],
        match=None if row["match_rate"] is None else round(100 * row["match_rate"], 1),
        size=row["size"],
        status=row["status"],
        explanation=explanation(row["status"]),
        last_sync=elapsed(row["last_sync_at"], now) if row["last_sync_at"] else "never",
        last_sync_at=row["last_sync_at"],
        message=row["status_message"] or row["last_error"],
        file=definition.get("path"),
    )


@dataclass(frozen=True)
class LookalikeRow:
    """An audience's lookalike, shown under it: TikTok's reach (``cover_num``) is its size."""

    key: str
    name: str
    tiktok_audience_id: str | None
    status: str
    explanation: str
    size: int | None
    settings: dict[str, Any]
    built: str  # "3 hours ago" (created or last refreshed on TikTok) or "never"
    built_at: datetime | None
    message: str | None
    in_definition: bool  # False once the lookalike: block was removed from the audience file


def lookalike_row(
    raw: dict[str, Any], now: datetime, audience_definition: dict[str, Any] | None = None
) -> LookalikeRow:
    """A ``lookalikes`` row as users see it. Given its audience's definition, the message also says
    when the lookalike is no longer in the audience file; without it, the message is the stored one."""
    from tiktok_audiences.sync.lookalike import LOOKALIKE_EXPLANATIONS, LookalikeStatus

    try:
        tip = LOOKALIKE_EXPLANATIONS[LookalikeStatus(raw["status"])]
    except ValueError:
        tip = ""
    try:
        settings = json.loads(raw.get("spec") or "{}")
    except ValueError:
        settings = {}
    in_definition = audience_definition is None or bool(audience_definition.get("lookalike"))
    message = raw.get("status_message")
    if not in_definition:
        gone = "No longer in the audience file: no longer checked; it was left on TikTok"
        message = f"{gone}. {message}" if message else gone
    return LookalikeRow(
        key=raw["audience_key"],
        name=raw["name"],
        tiktok_audience_id=raw.get("tiktok_audience_id"),
        status=raw["status"],
        explanation=tip,
        size=raw.get("cover_num"),
        settings=settings if isinstance(settings, dict) else {},
        built=elapsed(raw["built_at"], now) if raw.get("built_at") else "never",
        built_at=raw.get("built_at"),
        message=message,
        in_definition=in_definition,
    )


def lookalikes_by_audience(
    store: AudienceStore, audiences: list[dict[str, Any]], now: datetime
) -> dict[str, LookalikeRow]:
    """Each audience's lookalike row, keyed by audience key."""
    definitions = {a["audience_key"]: definition_of(a) for a in audiences}
    return {
        raw["audience_key"]: lookalike_row(raw, now, definitions.get(raw["audience_key"]))
        for raw in store.list_lookalikes()
        if raw["audience_key"] in definitions
    }
