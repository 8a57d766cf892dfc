"""What the page shows beyond the audience rows of :mod:`tiktok_audiences.reporting`: the search,
the integrations to re-authenticate, an audience's detail. Computed from the metadata tables: no
FastAPI, no HTML here."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tiktok_audiences.metadata import AudienceStore, utcnow
from tiktok_audiences.reporting import AudienceRow, LookalikeRow, audience_row, definition_of, lookalikes_by_audience
from tiktok_audiences.sync.status import AudienceStatus

STATUSES: tuple[str, ...] = tuple(s.value for s in AudienceStatus)


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
        "enhancement": ("on" if enhancement else "off") if enhancement is not None
        else "not set (TikTok's default: off)",
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
