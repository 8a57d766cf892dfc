"""What the page shows, computed from the metadata tables: no FastAPI, no HTML here."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tiktok_audiences.cli import elapsed
from tiktok_audiences.status import STATUS_EXPLANATIONS, AudienceStatus
from tiktok_audiences.store import AudienceStore, utcnow

STATUSES: tuple[str, ...] = tuple(s.value for s in AudienceStatus)


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


def explanation(status: str) -> str:
    try:
        return STATUS_EXPLANATIONS[AudienceStatus(status)]
    except ValueError:
        return ""


def definition_of(row: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(row["definition"] or "{}")
    except ValueError:
        return {}


def audience_row(row: dict[str, Any], now: datetime) -> AudienceRow:
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


def matches(row: AudienceRow, query: str, status: str) -> bool:
    if status and row.status != status:
        return False
    if query:
        needle = query.casefold()
        return needle in row.name.casefold() or needle in row.integration.casefold() or needle in row.key.casefold()
    return True


def failed_integrations(rows: list[AudienceRow]) -> list[tuple[str, int]]:
    """Integrations with more than one Failed audience: the brief's cue to re-authenticate."""
    counts = Counter(r.integration for r in rows if r.status == AudienceStatus.FAILED.value)
    return sorted((name, n) for name, n in counts.items() if n > 1)


def repo_relative(path: str | None) -> str | None:
    """The definition file as it appears in git (``include/audiences/x.yaml``) when we can tell."""
    if not path:
        return None
    parts = Path(path).parts
    for anchor in ("include",):
        if anchor in parts:
            return str(Path(*parts[parts.index(anchor):]))
    return path


@dataclass
class Detail:
    row: AudienceRow
    tiktok_audience_id: str | None
    definition: dict[str, Any]
    include: list[tuple[int, str | None]]
    exclude: list[tuple[int, str | None]]
    deleted_segments: list[int]
    runs: list[dict[str, Any]] = field(default_factory=list)
    points: list[tuple[datetime, int | None, float | None]] = field(default_factory=list)


def audience_detail(store: AudienceStore, raw: dict[str, Any]) -> Detail:
    definition = definition_of(raw)
    names = {sid: snap.get("name") for sid, snap in store.load_segment_snapshot(raw["audience_key"]).items()}
    runs = []
    for run in store.run_history(raw["audience_key"], limit=200):
        invalid = {}
        if run.get("invalid"):
            try:
                invalid = {k: v for k, v in json.loads(run["invalid"]).items() if v}
            except ValueError:
                invalid = {}
        runs.append({**run, "invalid_by_reason": invalid})
    points = [
        (r["finished_at"], r["size"], r["match_rate"])
        for r in reversed(runs)
        if r["finished_at"] and r["size"] is not None and r["outcome"] in ("success", "too_small")
    ]
    try:
        deleted = [int(s) for s in json.loads(raw.get("deleted_segments") or "[]")]
    except ValueError:
        deleted = []
    return Detail(
        row=audience_row(raw, utcnow()),
        tiktok_audience_id=raw.get("tiktok_audience_id"),
        definition=definition,
        include=[(int(s), names.get(int(s))) for s in definition.get("include_segments") or []],
        exclude=[(int(s), names.get(int(s))) for s in definition.get("exclude_segments") or []],
        deleted_segments=deleted,
        runs=runs,
        points=points,
    )
