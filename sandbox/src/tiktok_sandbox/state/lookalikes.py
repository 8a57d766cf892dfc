"""Lookalike Audiences (``dmp/custom_audience/lookalike/create/`` and ``update/``) of a seed audience."""

from __future__ import annotations

from collections.abc import Sequence

from tiktok_sandbox.errors import parameter_error
from tiktok_sandbox.state.audiences import LOOKALIKE_AUDIENCE, Audience, AudienceTable, HistoryEntry

#: TikTok's rule for a lookalike's seed (SDK yml): at least 100 (matched) users.
LOOKALIKE_MIN_SEED = 100
#: Users found per matched seed user and location, by audience_size (TikTok's enum values are 10/20/30).
_LOOKALIKE_FACTOR = {"NARROW": 10, "BALANCED": 20, "BROAD": 30}
#: Share (percent) of the users on the chosen devices.
_LOOKALIKE_OS_SHARE = {"ALL": 100, "ANDROID": 70, "IOS": 30}


class LookalikeAudiences(AudienceTable):
    """Create and refresh lookalikes; their reach is computed from the seed's matched users."""

    def create_lookalike_audience(self, advertiser_id: str, name: str, spec: dict) -> str:
        """Create a Lookalike Audience of the advertiser's audience ``spec["source_audience_id"]``.

        Raises:
            ApiError: 40002 when the source does not exist (or is another advertiser's), is itself
                a lookalike, or has fewer than 100 matched users (which includes a source TikTok
                has not processed yet).
        """
        with self._lock:
            now = self.now()
            source = self._lookalike_source(advertiser_id, str(spec["source_audience_id"]), now)
            audience = Audience(
                audience_id=str(next(self._audience_ids)),
                advertiser_id=advertiser_id,
                name=name,
                audience_type=LOOKALIKE_AUDIENCE,
                calculate_type="",
                sub_type="NORMAL",
                members={},
                created_at=now,
                modified_at=now,
                processing_until=now + self._config.processing_seconds,
                matched_count=_lookalike_reach(source.cover_num, spec),
                lookalike_spec=dict(spec),
            )
            audience.history.append(HistoryEntry("create", f"lookalike of {source.audience_id}", now))
            self._audiences[audience.audience_id] = audience
            return audience.audience_id

    def refresh_lookalikes(self, advertiser_id: str, audience_ids: Sequence[str]) -> None:
        """Rebuild lookalikes from their seed's current members (all or nothing).

        Raises:
            ApiError: 40002 when an id is not one of the advertiser's live lookalikes, or its
                source no longer qualifies as a seed.
        """
        with self._lock:
            now = self.now()
            plans = []
            for audience_id in dict.fromkeys(audience_ids):
                audience = self._audiences.get(audience_id)
                if (audience is None or audience.deleted or audience.advertiser_id != advertiser_id
                        or audience.audience_type != LOOKALIKE_AUDIENCE):
                    raise parameter_error(
                        "custom_audience_ids", f"{audience_id} is not a lookalike audience of this advertiser"
                    )
                assert audience.lookalike_spec is not None
                source = self._lookalike_source(advertiser_id, str(audience.lookalike_spec["source_audience_id"]), now)
                plans.append((audience, source))
            for audience, source in plans:
                audience.settle(now, self._config.min_audience_size)
                audience.matched_count = _lookalike_reach(source.cover_num, audience.lookalike_spec or {})
                audience.modified_at = now
                audience.start_processing(now, self._config.processing_seconds)
                audience.history.append(HistoryEntry("refresh", f"lookalike of {source.audience_id}", now))

    def _lookalike_source(self, advertiser_id: str, source_id: str, now: float) -> Audience:
        source = self._audiences.get(source_id)
        if source is None or source.deleted or source.advertiser_id != advertiser_id:
            raise parameter_error("source_audience_id", f"the audience {source_id} does not exist")
        if source.audience_type == LOOKALIKE_AUDIENCE:
            raise parameter_error("source_audience_id", f"the audience {source_id} is a lookalike audience; "
                                  "a lookalike cannot be the source of another")
        source.settle(now, self._config.min_audience_size)
        if source.cover_num < LOOKALIKE_MIN_SEED:
            raise parameter_error(
                "source_audience_id",
                f"the source audience {source_id} has {source.cover_num} matched users (at least "
                f"{LOOKALIKE_MIN_SEED} are needed; an audience still being processed has none yet)",
            )
        return source


def _lookalike_reach(seed_matched: int, spec: dict) -> int:
    """The (deterministic) number of users a lookalike finds for a seed of ``seed_matched`` users."""
    locations = len(spec.get("location_ids") or ()) or 1
    found = seed_matched * _LOOKALIKE_FACTOR.get(str(spec.get("audience_size")), 20) * locations
    found = found * _LOOKALIKE_OS_SHARE.get(str(spec.get("mobile_os")), 100) // 100
    return found + (seed_matched if spec.get("include_source") else 0)
