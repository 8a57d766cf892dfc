"""What a run sends: create, replace, resync or incremental, and the additions and removals.

Pure functions over :class:`~tiktok_audiences.members.membership.Identifiers`; the engine records
and sends what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tiktok_audiences.members import membership
from tiktok_audiences.members.membership import Identifiers
from tiktok_audiences.tiktok.partner import PARTNER

CREATE = "create"
REPLACE = "replace"
RESYNC = "resync"
INCREMENTAL = "incremental"


@dataclass
class Plan:
    """What one run sends TikTok.

    :param mode: ``create`` (no TikTok audience yet), ``replace`` (a customer-file full resync: REPLACE),
        ``resync`` (a partner full resync: add everyone, delete the rest) or ``incremental`` (the diff)
    :param additions: ``id_type``/``id_hash`` frame to add
    :param removals: ``id_type``/``id_hash`` frame to remove
    """

    mode: str
    additions: pd.DataFrame
    removals: pd.DataFrame

    def counts(self, identifiers: int) -> dict[str, int | str]:
        """The plan as the run summary and the dry run report it."""
        return {"mode": self.mode, "to_add": len(self.additions), "to_remove": len(self.removals),
                "identifiers": identifiers}


def plan_sync(*, desired: Identifiers, confirmed: Identifiers, unconfirmed: Identifiers, has_audience: bool,
              full_resync: bool, api: str) -> Plan:
    """Decide what to send.

    :param desired: the audience's identifiers now
    :param confirmed: identifiers TikTok accepted and we recorded
    :param unconfirmed: identifiers an earlier run sent without recording TikTok's answer (TikTok may
        hold them or not): the ones no longer desired are removed as well
    :param has_audience: whether a TikTok audience exists to update
    """
    if full_resync or not has_audience:
        if has_audience:
            # What a REPLACE keeps (for the removal guard), counted before the upload frame exists:
            # at 10M contacts the two together passed 2 GiB. The count is remembered.
            overlap(desired, confirmed)
        additions = desired.to_frame()
        if not has_audience:
            return Plan(CREATE, additions, membership.empty_identifiers())
        if api == PARTNER:
            # The Segment API has no REPLACE: every member is added again (idempotent) and every
            # identifier possibly on TikTok but no longer in the audience is deleted.
            removals = membership.removed_identifiers(desired, possibly_on_tiktok(confirmed, unconfirmed))
            return Plan(RESYNC, additions, removals)
        return Plan(REPLACE, additions, membership.empty_identifiers())
    return Plan(INCREMENTAL, membership.added_identifiers(desired, confirmed),
                membership.removed_identifiers(desired, possibly_on_tiktok(confirmed, unconfirmed)))


def possibly_on_tiktok(confirmed: Identifiers, unconfirmed: Identifiers) -> Identifiers:
    """What TikTok may hold: the confirmed identifiers and those sent without hearing TikTok's answer."""
    return Identifiers.distinct(confirmed, unconfirmed) if not unconfirmed.empty else confirmed


def overlap(desired: Identifiers, confirmed: Identifiers) -> int:
    """How many confirmed identifiers are still desired (what a REPLACE keeps)."""
    return len(confirmed) - membership.count_removed(desired, confirmed)


def removal_count(plan: Plan, *, desired: Identifiers, confirmed: Identifiers) -> int:
    """How many identifiers on TikTok the plan takes away (a REPLACE drops all it does not keep)."""
    if plan.mode == INCREMENTAL:
        return len(plan.removals)
    return len(confirmed) - overlap(desired, confirmed)
