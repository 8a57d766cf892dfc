"""What one run of an audience's sync knows as it goes, and how it is recorded.

:class:`ExtractedMembers` is what the extract task handed over; :class:`SyncRun` holds the desired
and confirmed identifiers, TikTok's side, the plan, the notes for the status message, and writes
the run's row in the run history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tiktok_audiences.definitions import AudienceDefinition
from tiktok_audiences.members import membership, staging
from tiktok_audiences.members.membership import AudienceMembers, Identifiers
from tiktok_audiences.metadata import AudienceStore
from tiktok_audiences.sync.errors import SyncFailed
from tiktok_audiences.sync.plan import Plan
from tiktok_audiences.sync.senders import Sender
from tiktok_audiences.sync.status import AudienceStatus
from tiktok_audiences.tiktok.partner import CUSTOMER_FILE


@dataclass(frozen=True)
class ExtractedMembers:
    """The extract task's result: where its staged member files are, and what it counted.

    :param folder: the run's staging folder (a path-like: ``ObjectStoragePath`` in a task)
    :param include_contacts: contacts in the include segments
    :param invalid: identifiers refused by normalization, by reason
    :param deleted_segments: segments deleted in the contact database (kept with their last definition)
    :param timings: the extract task's stage timings, in seconds
    :param api: the API the identifiers were hashed for (the phone form differs), if recorded
    """

    folder: Any
    include_contacts: int = 0
    invalid: Mapping[str, Any] = field(default_factory=dict)
    deleted_segments: tuple[int, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    api: str | None = None

    @classmethod
    def from_summary(cls, summary: object, folder_from_url: Callable[[str], Any]) -> ExtractedMembers:
        """Read the extract task's summary (its XCom); ``folder_from_url`` opens the staging URL."""
        if not isinstance(summary, Mapping) or "run_folder" not in summary:
            raise SyncFailed("The extract task returned no staging folder; re-run the whole DAG run.")
        return cls(
            folder=folder_from_url(str(summary["run_folder"])),
            include_contacts=int(summary.get("include_contacts", 0)),
            invalid=dict(summary.get("invalid") or {}),
            deleted_segments=tuple(summary.get("deleted_segments") or ()),
            timings={k: float(v) for k, v in (summary.get("timings") or {}).items()},
            api=summary.get("api"),
        )


class SyncRun:
    """One run of one audience: members, TikTok's side, plan, notes, and its row in the run history."""

    def __init__(self, *, definition: AudienceDefinition, run_id: str, store: AudienceStore, row: dict[str, Any],
                 extracted: ExtractedMembers, audience: AudienceMembers, confirmed: Identifiers,
                 unconfirmed: Identifiers, timings: dict[str, float]) -> None:
        self.definition = definition
        self.key = definition.key
        self.run_id = run_id
        self.store = store
        self.row = row
        self.extracted = extracted
        self.audience = audience
        self.desired = audience.identifiers
        self.confirmed = confirmed
        #: Sent by earlier runs that never recorded TikTok's answer: TikTok may hold them or not
        self.unconfirmed = unconfirmed
        self.audience_id: str | None = row["tiktok_audience_id"]
        self.api = CUSTOMER_FILE  # set from the definition and the integration once TikTok is known
        self.deleted_segments = list(extracted.deleted_segments)
        self.timings = timings
        self.notes: list[str] = []
        self.plan = Plan("", membership.empty_identifiers(), membership.empty_identifiers())
        #: The sender of this run once sending started (what TikTok accepted so far, if it stops early)
        self.sender: Sender | None = None
        self.counts: dict[str, Any] = {
            "extracted": extracted.include_contacts,
            "invalid": dict(extracted.invalid),
            "excluded": audience.excluded_contacts,
            "size": audience.size,
        }

    @classmethod
    def start(cls, definition: AudienceDefinition, *, run_id: str, dag_id: str, store: AudienceStore,
              extracted: ExtractedMembers) -> SyncRun:
        """Register the audience and load the desired and the confirmed identifiers."""
        row = store.register_audience(definition.as_dict(), dag_id, initial_status=AudienceStatus.PENDING.value)
        timings = dict(extracted.timings)
        started = time.perf_counter()
        folder = extracted.folder
        audience = membership.build_audience(
            staging.read_member_keys(folder / "include.parquet"), staging.read_member_keys(folder / "exclude.parquet")
        )
        confirmed = store.load_confirmed_identifiers(definition.key)
        unconfirmed = store.load_unconfirmed_identifiers(definition.key)
        timings["set_ops_diff"] = time.perf_counter() - started
        return cls(definition=definition, run_id=run_id, store=store, row=row, extracted=extracted, audience=audience,
                   confirmed=confirmed, unconfirmed=unconfirmed, timings=timings)

    def forget_tiktok_audience(self, *, persist: bool = True) -> None:
        """The TikTok audience can no longer be used: a new one is created and filled from scratch.

        :param persist: also forget it in the metadata tables (False for a dry run, which changes nothing)
        """
        if persist:
            self.store.update_audience(self.key, tiktok_audience_id=None, is_valid=None, cover_num=None)
            self.store.forget_confirmed(self.key)
        self.audience_id = None
        self.confirmed = Identifiers.none()
        self.unconfirmed = Identifiers.none()

    def plan_counts(self) -> dict[str, int | str]:
        return self.plan.counts(len(self.desired))

    def message(self) -> str | None:
        return "; ".join(self.notes) or None

    def sent(self) -> tuple[int, int]:
        """Identifiers added and removed so far (what TikTok accepted)."""
        return (self.sender.added, self.sender.removed) if self.sender else (0, 0)

    def record_audience(self, **values: Any) -> None:
        """Update the audience's row with this run's size, message and deleted segments, and ``values``."""
        self.store.update_audience(self.key, status_message=self.message(), size=self.audience.size,
                                   deleted_segments=json.dumps(self.deleted_segments), **values)

    def remember_segments(self) -> None:
        """Keep this run's segment definitions and static members: the fallback if a segment is deleted."""
        folder = self.extracted.folder
        segments = json.loads((folder / "segments.json").read_text())
        self.store.save_segment_snapshot(self.key, segments, staging.read_frame(folder / "static_members.parquet"))

    def finish(self, *, outcome: str, **values: Any) -> None:
        self.store.finish_run(self.key, self.run_id, outcome=outcome,
                              timings={k: round(float(v), 3) for k, v in self.timings.items()},
                              message=self.message(), **self.counts, **values)

    def result(self, outcome: str, status: str) -> dict[str, Any]:
        """The task's return value (its XCom): counts and status, never identifiers."""
        return {"audience": self.key, "outcome": outcome, "status": status, "plan": self.plan_counts(), **self.counts}
