"""What the page shows, computed from the metadata tables: no FastAPI, no HTML here."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tiktok_audiences.cli import elapsed
from tiktok_audiences.metadata import AudienceStore, utcnow
from tiktok_audiences.sync.status import STATUS_EXPLANATIONS, AudienceStatus

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


def lookalike_row(raw: dict[str, Any], now: datetime, audience_definition: dict[str, Any] | None = None) -> LookalikeRow:
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


def lookalikes_by_audience(store: AudienceStore, audiences: list[dict[str, Any]], now: datetime) -> dict[str, LookalikeRow]:
    """Each audience's lookalike row, keyed by audience key."""
    definitions = {a["audience_key"]: definition_of(a) for a in audiences}
    return {
        raw["audience_key"]: lookalike_row(raw, now, definitions.get(raw["audience_key"]))
        for raw in store.list_lookalikes()
        if raw["audience_key"] in definitions
    }


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


_PHONE_FORMAT_LABELS = {
    "digits": "digits with country code, no + (16577770000)",
    "e164": "E.164 with + (+16577770000)",
    "both": "both forms, one record each",
}
_EMAIL_PLUS_LABELS = {"remove": "+suffix removed", "keep": "+suffix kept"}
_EMAIL_DOTS_LABELS = {"keep": "dots kept", "gmail": "dots removed for Gmail", "remove": "dots removed"}


def hashing_of(definition: dict[str, Any]) -> dict[str, str]:
    """How the audience's phones and emails are hashed, in words (its ``normalization:`` block
    over the API's defaults: digits for customer files, E.164 for the partner API)."""
    settings = definition.get("normalization") or {}
    api = definition.get("api")
    if settings.get("phone_format"):
        phone = _PHONE_FORMAT_LABELS.get(settings["phone_format"], settings["phone_format"])
    elif api == "partner":
        phone = _PHONE_FORMAT_LABELS["e164"] + " (partner API default)"
    elif api == "customer_file":
        phone = _PHONE_FORMAT_LABELS["digits"] + " (customer-file default)"
    else:
        phone = "the API's default: digits for customer files, E.164 with + for the partner API"
    email = ", ".join([
        _EMAIL_PLUS_LABELS.get(settings.get("email_plus_suffix", "remove"), "?"),
        _EMAIL_DOTS_LABELS.get(settings.get("email_dots", "keep"), "?"),
    ])
    return {"phone": phone, "email": email}


def create_options_of(definition: dict[str, Any]) -> dict[str, str]:
    """TikTok's create options as set in the audience file (TikTok's defaults otherwise)."""
    days = definition.get("retention_in_days")
    enhancement = definition.get("audience_enhancement")
    return {
        "retention": (f"{days} days after creation (fixed)" if days is not None
                      else "TikTok's default: 365 days after last use in an active ad group or change"),
        "enhancement": ("on" if enhancement else "off") if enhancement is not None else "not set (TikTok's default: off)",
    }


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
    lookalike: LookalikeRow | None = None
    hashing: dict[str, str] = field(default_factory=dict)
    create_options: dict[str, str] = field(default_factory=dict)


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
        lookalike=lookalikes_by_audience(store, [raw], utcnow()).get(raw["audience_key"]),
        hashing=hashing_of(definition),
        create_options=create_options_of(definition),
    )
