"""Customer File Audiences (``dmp/custom_audience/create/`` and ``update/``): made of uploaded files.

Business rules that depend on stored data live here: ownership, existence, the minimum size,
TikTok's refusals of a member change while processing or after matching too few users, and the
REPLACE cooldown; request-shape validation lives in :mod:`tiktok_sandbox.tiktok_api.customer_files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tiktok_sandbox.errors import BUSY_MESSAGE, TOO_FEW_MATCHES_MESSAGE, ApiError, Code, parameter_error
from tiktok_sandbox.identifiers import MemberSets, id_family
from tiktok_sandbox.state.audiences import CUSTOMER_FILE_AUDIENCE, Audience, HistoryEntry
from tiktok_sandbox.state.files import UploadedFiles, merge_files
from tiktok_sandbox.state.matching import UserMatching

UpdateAction = Literal["APPEND", "REMOVE", "REPLACE"]


class CustomerFileAudiences(UserMatching, UploadedFiles):
    """Create, update (APPEND / REMOVE / REPLACE, rename, sub type) Customer File Audiences."""

    def create_customer_file_audience(
        self,
        advertiser_id: str,
        name: str,
        calculate_type: str,
        file_paths: Sequence[str],
        sub_type: str,
        retention_in_days: int | None,
        audience_enhancement: bool = False,
    ) -> str:
        """Create an audience from uploaded files; returns the new custom_audience_id.

        ``retention_in_days`` pins the expiry to creation + N days; ``audience_enhancement`` is kept
        and shown by get (TikTok documents no semantics for it beyond "boolean, default false").
        """
        with self._lock:
            files = self._resolve_files(advertiser_id, file_paths, calculate_type)
            members = merge_files(files, calculate_type)
            self._require_min_size(sum(len(v) for v in members.values()))
            now = self.now()
            audience = Audience(
                audience_id=str(next(self._audience_ids)),
                advertiser_id=advertiser_id,
                name=name,
                audience_type=CUSTOMER_FILE_AUDIENCE,
                calculate_type=calculate_type,
                sub_type=sub_type,
                members=members,
                created_at=now,
                modified_at=now,
                processing_until=now + self._config.processing_seconds,
                matched_count=0,
                retention_in_days=retention_in_days,
                audience_enhancement=audience_enhancement,
            )
            self._count_in(audience, members)
            audience.history.append(
                HistoryEntry("create", f"{len(files)} file(s), {audience.member_count} record(s)", now)
            )
            self._audiences[audience.audience_id] = audience
            return audience.audience_id

    def update_customer_file_audience(
        self,
        advertiser_id: str,
        audience_id: str,
        *,
        name: str | None,
        file_paths: Sequence[str] | None,
        action: UpdateAction,
    ) -> None:
        """Rename an audience and/or change its members; all-or-nothing.

        Raises:
            ApiError: 40007 unknown/deleted audience; 40910 bad file_path; 40002 wrong type,
                REPLACE within the cooldown, or a result below ``min_audience_size``.
        """
        with self._lock:
            audience = self._owned_audience(advertiser_id, audience_id)
            now = self.now()
            audience.settle(now, self._config.min_audience_size)
            if file_paths is not None:
                self._require_updatable(audience, now)
                self._change_members(audience, file_paths, action, now)
            if name is not None and name != audience.name:
                audience.name = name
                audience.history.append(HistoryEntry("rename", name, now))

    def change_sub_type(self, advertiser_id: str, audience_id: str, sub_type: str) -> None:
        """Switch a NORMAL audience to REACH_FREQUENCY (the only direction TikTok allows)."""
        with self._lock:
            audience = self._owned_audience(advertiser_id, audience_id)
            if audience.sub_type == sub_type:
                return
            if sub_type != "REACH_FREQUENCY":
                raise parameter_error("audience_sub_type", "can only be changed from NORMAL to REACH_FREQUENCY")
            audience.sub_type = sub_type
            audience.history.append(HistoryEntry("update_sub_type", sub_type, self.now()))

    def _change_members(self, audience: Audience, file_paths: Sequence[str], action: UpdateAction, now: float) -> None:
        if audience.audience_type != CUSTOMER_FILE_AUDIENCE:
            raise parameter_error(
                "custom_audience_id", f"audience {audience.audience_id} is not a Customer File Audience"
            )
        files = self._resolve_files(audience.advertiser_id, file_paths, audience.calculate_type)
        if action == "REPLACE":
            self._check_replace_cooldown(audience, now)
        incoming = merge_files(files, audience.calculate_type)
        if action == "APPEND":
            added = {key: values - audience.members.get(key, set()) for key, values in incoming.items()}
            self._require_min_size(audience.member_count + sum(len(v) for v in added.values()))
            for key, values in added.items():
                audience.members.setdefault(key, set()).update(values)
            self._count_in(audience, added)
            changed = sum(len(v) for v in added.values())
        elif action == "REMOVE":
            removed = _matching_members(audience.members, incoming)
            self._require_min_size(audience.member_count - sum(len(v) for v in removed.values()))
            for key, values in removed.items():
                audience.members[key] -= values
            self._count_out(audience, removed)
            changed = sum(len(v) for v in removed.values())
        else:
            self._require_min_size(sum(len(v) for v in incoming.values()))
            audience.members = incoming
            audience.matched_count, audience.matched_user_refs = self._tally(incoming)
            audience.last_replace_at = now
            changed = audience.member_count
        audience.modified_at = now
        audience.start_processing(now, self._config.processing_seconds)
        audience.history.append(
            HistoryEntry(action.lower(), f"{len(files)} file(s), {changed} record(s) {_VERB[action]}", now)
        )

    def _require_updatable(self, audience: Audience, now: float) -> None:
        """TikTok's two audience refusals of a member change (40002, its return-code appendix)."""
        if audience.audience_type != CUSTOMER_FILE_AUDIENCE:
            return  # _change_members refuses it with its own message
        if self._config.busy_while_processing and now < audience.processing_until:
            raise ApiError(Code.PARAMETER_ERROR, BUSY_MESSAGE)
        if self._config.refuse_updates_when_unmatched and audience.settled and not audience.is_valid:
            # Processing ended below the minimum of matched users and the audience never became valid.
            raise ApiError(Code.PARAMETER_ERROR, TOO_FEW_MATCHES_MESSAGE)

    def _check_replace_cooldown(self, audience: Audience, now: float) -> None:
        cooldown = self._config.replace_cooldown_seconds
        if cooldown > 0 and audience.last_replace_at is not None and now - audience.last_replace_at < cooldown:
            raise ApiError(
                Code.PARAMETER_ERROR,
                f"Parameter error: audience {audience.audience_id} has an unfinished replace operation. "
                "It is recommended to replace an audience no more than once per day.",
            )

    def _require_min_size(self, resulting_size: int) -> None:
        minimum = self._config.min_audience_size
        if resulting_size < minimum:
            raise ApiError(
                Code.PARAMETER_ERROR,
                f"Parameter error: the audience must have at least {minimum:,} records; "
                f"this request would leave {resulting_size:,}.",
            )


_VERB: dict[str, str] = {"APPEND": "added", "REMOVE": "removed", "REPLACE": "now in the audience"}


def _matching_members(members: MemberSets, incoming: MemberSets) -> MemberSets:
    """Members that a REMOVE of ``incoming`` takes out (same hash, same identifier family)."""
    removed: MemberSets = {}
    for column_type, values in incoming.items():
        for key in id_family(column_type):
            existing = members.get(key)
            if existing:
                hits = existing & values
                if hits:
                    removed.setdefault(key, set()).update(hits)
    return removed
