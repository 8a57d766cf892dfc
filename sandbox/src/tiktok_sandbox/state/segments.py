"""Partner audiences of TikTok's Audience Segment API (``segment/audience/``, ``segment/mapping/``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tiktok_sandbox.errors import parameter_error
from tiktok_sandbox.identifiers import MULTIPLE_TYPES
from tiktok_sandbox.state.audiences import PARTNER_AUDIENCE, Audience, HistoryEntry
from tiktok_sandbox.state.matching import UserMatching

MappingAction = Literal["add", "delete"]


@dataclass(frozen=True)
class MappingChange:
    """One (audience, id type, hash) membership change requested through /segment/mapping/."""

    audience_id: str
    id_type: str
    value: str


class PartnerAudiences(UserMatching):
    """Create and delete Partner audiences, and add or delete their identifiers."""

    def create_partner_audience(self, advertiser_id: str, name: str) -> str:
        """Create an empty Partner audience for the Segment API; returns its audience_id."""
        with self._lock:
            now = self.now()
            audience = Audience(
                audience_id=str(next(self._audience_ids)),
                advertiser_id=advertiser_id,
                name=name,
                audience_type=PARTNER_AUDIENCE,
                calculate_type=MULTIPLE_TYPES,
                sub_type="NORMAL",
                members={},
                created_at=now,
                modified_at=now,
                processing_until=now + self._config.processing_seconds,
                matched_count=0,
            )
            # Matches the fixture of a fresh Segment-API audience in segmentio/action-destinations
            # packages/destination-actions/src/destinations/tiktok-audiences/__tests__/index.test.ts.
            audience.history.append(HistoryEntry("create", "0", now))
            self._audiences[audience.audience_id] = audience
            return audience.audience_id

    def delete_partner_audience(self, advertiser_id: str, audience_id: str) -> None:
        """Delete through /segment/audience/ (action=delete)."""
        self.delete_audiences(advertiser_id, [audience_id])

    def apply_mapping(
        self, advertiser_ids: Sequence[str], action: MappingAction, changes: Sequence[MappingChange]
    ) -> None:
        """Add or delete identifiers in Partner audiences; validates every audience id first.

        Raises:
            ApiError: 40002 when an audience id is unknown, deleted, not a Partner audience, or
                belongs to none of ``advertiser_ids``; nothing is applied then.
        """
        with self._lock:
            allowed = set(advertiser_ids)
            audiences: dict[str, Audience] = {}
            for audience_id in dict.fromkeys(change.audience_id for change in changes):
                audience = self._audiences.get(audience_id)
                if (
                    audience is None
                    or audience.deleted
                    or audience.advertiser_id not in allowed
                    or audience.audience_type != PARTNER_AUDIENCE
                ):
                    raise parameter_error("audience_ids", f"invalid audience ID {audience_id}")
                audiences[audience_id] = audience
            now = self.now()
            for audience in audiences.values():
                # Publish any finished processing before this change opens a new window.
                audience.settle(now, self._config.min_audience_size)
            touched: set[str] = set()
            for change in changes:
                audience = audiences[change.audience_id]
                if _apply_mapping_change(audience, action, change):
                    one = {change.id_type: {change.value}}
                    if action == "add":
                        self._count_in(audience, one)
                    else:
                        self._count_out(audience, one)
                    touched.add(audience.audience_id)
            for audience_id in touched:
                audience = audiences[audience_id]
                audience.modified_at = now
                audience.start_processing(now, self._config.processing_seconds)


def _apply_mapping_change(audience: Audience, action: MappingAction, change: MappingChange) -> bool:
    """Apply one mapping change; returns whether membership actually changed."""
    if action == "add":
        values = audience.members.setdefault(change.id_type, set())
        if change.value in values:
            return False
        values.add(change.value)
        return True
    existing = audience.members.get(change.id_type)
    if existing is None or change.value not in existing:
        return False
    existing.discard(change.value)
    return True
