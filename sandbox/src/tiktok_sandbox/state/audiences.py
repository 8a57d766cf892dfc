"""The audience table: every kind of audience, with its real member set, and the reads over it.

Audiences hold their *real* member sets (Python sets of lowercase hex hashes), which is what lets
tests assert that an APPEND, REMOVE or REPLACE did exactly what it should. What creates and
changes them lives with each kind: :mod:`~tiktok_sandbox.state.customer_files`,
:mod:`~tiktok_sandbox.state.segments` (Partner audiences) and :mod:`~tiktok_sandbox.state.lookalikes`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tiktok_sandbox.errors import ApiError, Code
from tiktok_sandbox.identifiers import MemberSets
from tiktok_sandbox.state.base import StateBase

CUSTOMER_FILE_AUDIENCE = "Customer File Audience"
PARTNER_AUDIENCE = "Partner"
LOOKALIKE_AUDIENCE = "Lookalike Audience"

_SECONDS_PER_DAY = 86400.0
_DEFAULT_LIFETIME_DAYS = 365
# Audience ids look like TikTok's 19-digit ids; the counter survives resets so that a stale id
# kept by a client across a reset can never silently point at a new audience.
AUDIENCE_ID_BASE = 7_300_000_000_000_000_000


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an audience's ``audience_history``."""

    action: str
    action_detail: str
    opt_time: float
    msg: str | None = None


@dataclass
class Audience:
    """A custom audience with its real member set.

    ``matched_users`` always reflects the current members; ``cover_num`` is what TikTok shows,
    which only catches up once the processing window (``processing_until``) has passed.
    ``matched_count`` counts matched users without an identity: member hashes that are their own
    user (no population registered) or, for a lookalike, its computed reach;
    ``matched_user_refs`` maps each matched *registered* user to how many member hashes reach it,
    so that a user holding an email, a phone and a MAID counts once and leaves only with its
    last hash (see :mod:`tiktok_sandbox.population`).
    """

    audience_id: str
    advertiser_id: str
    name: str
    audience_type: str
    calculate_type: str
    sub_type: str
    members: MemberSets
    created_at: float
    modified_at: float
    processing_until: float
    matched_count: int
    retention_in_days: int | None = None
    audience_enhancement: bool = False
    cover_num: int = 0
    is_valid: bool = False
    settled: bool = False
    msg: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    last_replace_at: float | None = None
    deleted: bool = False
    lookalike_spec: dict | None = None
    matched_user_refs: dict[int, int] = field(default_factory=dict)

    @property
    def matched_users(self) -> int:
        """Distinct TikTok users the current members reach: what ``cover_num`` becomes once processed."""
        return self.matched_count + len(self.matched_user_refs)

    @property
    def member_count(self) -> int:
        """Number of distinct (type, hash) members."""
        return sum(len(values) for values in self.members.values())

    @property
    def expires_at(self) -> float:
        """When the audience expires: ``retention_in_days`` after creation, else 365 days after the last change.

        tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_create.yml (``retention_in_days``);
        https://ads.tiktok.com/help/article/audience-expiration-policy.
        """
        if self.retention_in_days is not None:
            return self.created_at + self.retention_in_days * _SECONDS_PER_DAY
        return self.modified_at + _DEFAULT_LIFETIME_DAYS * _SECONDS_PER_DAY

    def settle(self, now: float, min_matched: int) -> None:
        """Publish the result of processing once its window has passed.

        An audience that was valid stays valid through later updates ("updates keep is_valid as
        it was"); one that never reached ``min_matched`` matched users stays invalid with a
        message, until an update brings enough matched users.
        """
        if self.settled or now < self.processing_until:
            return
        self.settled = True
        self.cover_num = self.matched_users
        if self.cover_num >= min_matched:
            self.is_valid = True
            self.msg = None
        elif not self.is_valid:
            self.msg = (
                f"Only {self.cover_num} matched TikTok users; an audience needs at least "
                f"{min_matched:,} matched users to become available."
            )

    def start_processing(self, now: float, seconds: float) -> None:
        """Open a processing window after a change of members."""
        self.processing_until = now + seconds
        self.settled = False


@dataclass(frozen=True)
class AudienceSnapshot:
    """Read-only copy of an audience's scalar fields, safe to use outside the lock."""

    audience_id: str
    advertiser_id: str
    name: str
    audience_type: str
    calculate_type: str
    sub_type: str
    member_count: int
    cover_num: int
    is_valid: bool
    created_at: float
    expires_at: float
    msg: str | None
    deleted: bool
    history: tuple[HistoryEntry, ...]
    lookalike_spec: dict | None = None
    audience_enhancement: bool = False


class AudienceTable(StateBase):
    """The audiences by id (deleted ones stay, without their members) and the reads over them."""

    _audience_ids: itertools.count[int]
    _audiences: dict[str, Audience]

    def _owned_audience(self, advertiser_id: str, audience_id: str) -> Audience:
        audience = self._audiences.get(audience_id)
        if audience is None or audience.deleted or audience.advertiser_id != advertiser_id:
            raise ApiError(Code.OBJECT_NOT_FOUND, f"The audience {audience_id} does not exist.")
        return audience

    def delete_audiences(self, advertiser_id: str, audience_ids: Sequence[str]) -> None:
        """Delete audiences; if any id is unknown nothing is deleted (40007)."""
        with self._lock:
            audiences = [self._owned_audience(advertiser_id, audience_id) for audience_id in audience_ids]
            for audience in audiences:
                audience.deleted = True
                # The hashes are no longer reachable through the API; keep only the count.
                audience.members = {}

    # ----------------------------------------------------------------- reads

    def get_audiences(self, advertiser_id: str, audience_ids: Iterable[str]) -> list[AudienceSnapshot]:
        """Snapshots of the advertiser's live audiences among ``audience_ids`` (unknown ids skipped)."""
        with self._lock:
            found = []
            for audience_id in dict.fromkeys(audience_ids):
                audience = self._audiences.get(audience_id)
                if audience and not audience.deleted and audience.advertiser_id == advertiser_id:
                    found.append(self._snapshot(audience))
            return found

    def list_audiences(self, advertiser_id: str, audience_ids: Iterable[str] | None = None) -> list[AudienceSnapshot]:
        """All live audiences of the advertiser, newest first, optionally filtered by id."""
        with self._lock:
            wanted = set(audience_ids) if audience_ids is not None else None
            audiences = [
                a
                for a in self._audiences.values()
                if a.advertiser_id == advertiser_id and not a.deleted and (wanted is None or a.audience_id in wanted)
            ]
            audiences.sort(key=lambda a: (a.created_at, int(a.audience_id)), reverse=True)
            return [self._snapshot(a) for a in audiences]

    def all_audiences(self) -> list[AudienceSnapshot]:
        """Every audience ever created since the last reset, deleted ones included."""
        with self._lock:
            return [self._snapshot(a) for a in self._audiences.values()]

    def audience_members(self, audience_id: str) -> dict[str, set[str]] | None:
        """A copy of the audience's member sets by id type, or None if it does not exist."""
        with self._lock:
            audience = self._audiences.get(audience_id)
            if audience is None:
                return None
            return {key: set(values) for key, values in audience.members.items() if values}

    def finish_processing(self, audience_id: str) -> AudienceSnapshot | None:
        """End the audience's processing window now (a test shortcut)."""
        with self._lock:
            audience = self._audiences.get(audience_id)
            if audience is None:
                return None
            audience.processing_until = min(audience.processing_until, self.now())
            return self._snapshot(audience)

    def _snapshot(self, audience: Audience) -> AudienceSnapshot:
        audience.settle(self.now(), self._config.min_audience_size)
        return AudienceSnapshot(
            audience_id=audience.audience_id,
            advertiser_id=audience.advertiser_id,
            name=audience.name,
            audience_type=audience.audience_type,
            calculate_type=audience.calculate_type,
            sub_type=audience.sub_type,
            member_count=audience.member_count,
            cover_num=audience.cover_num,
            is_valid=audience.is_valid,
            created_at=audience.created_at,
            expires_at=audience.expires_at,
            msg=audience.msg,
            deleted=audience.deleted,
            history=tuple(audience.history),
            lookalike_spec=dict(audience.lookalike_spec) if audience.lookalike_spec else None,
            audience_enhancement=audience.audience_enhancement,
        )
