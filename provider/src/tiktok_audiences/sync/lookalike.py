"""Lookalike audiences: their statuses and the rules deciding what a run does with one.

Pure Python (no Airflow import). The Airflow glue is :mod:`tiktok_audiences.operators.lookalike`.

TikTok cannot change a lookalike's settings: ``/dmp/custom_audience/lookalike/update/`` only takes
``custom_audience_ids`` and rebuilds each lookalike from its seed's current members. So a changed
``lookalike:`` block (or a seed that was recreated, or another ad account) means a *new* lookalike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from tiktok_audiences.definitions import lookalike_spec_hash
from tiktok_audiences.sync import reconcile
from tiktok_audiences.sync.reconcile import CLOCK_SLACK

#: TikTok's ``audience_type`` of a lookalike in list/get answers.
LOOKALIKE_AUDIENCE_TYPE = "Lookalike Audience"
#: A lookalike is rebuilt from its changed seed at most this often.
REFRESH_INTERVAL = timedelta(days=1)


class LookalikeStatus(StrEnum):
    WAITING = "Waiting for Source"
    INITIATING = "Initiating"
    ACTIVE = "Active"
    FAILED = "Failed"


LOOKALIKE_EXPLANATIONS: dict[LookalikeStatus, str] = {
    LookalikeStatus.WAITING: (
        "The lookalike is created once TikTok has processed the source audience (it needs a usable "
        "seed); nothing was sent yet."
    ),
    LookalikeStatus.INITIATING: "The lookalike was created on TikTok, which is still building it.",
    LookalikeStatus.ACTIVE: "The lookalike is built and usable in ad targeting.",
    LookalikeStatus.FAILED: "The last attempt to create or check the lookalike failed; the message says why.",
}


@dataclass(frozen=True)
class LookalikePlan:
    """What a run does with the lookalike: create the first, rebuild (a new one), or check the one it has."""

    action: Literal["create", "rebuild", "check"]
    reason: str | None = None


def plan_lookalike(
    recorded: Mapping[str, Any] | None, *, spec: Mapping[str, Any], source_audience_id: str, advertiser_id: str
) -> LookalikePlan:
    """Decide from the recorded lookalike and the current definition and seed.

    :param recorded: the lookalike's metadata row (None or without a TikTok id: nothing on TikTok yet)
    :param spec: the definition's spec (``LookalikeDefinition.spec()``)
    :param source_audience_id: the TikTok id of the seed audience now
    :param advertiser_id: the ad account the integration points at now
    """
    if not recorded or not recorded.get("tiktok_audience_id"):
        return LookalikePlan("create")
    if recorded.get("advertiser_id") and str(recorded["advertiser_id"]) != str(advertiser_id):
        return LookalikePlan(
            "rebuild",
            f"the integration now points at advertiser {advertiser_id} "
            f"(the lookalike was on {recorded['advertiser_id']})",
        )
    if recorded.get("source_audience_id") and str(recorded["source_audience_id"]) != str(source_audience_id):
        return LookalikePlan(
            "rebuild",
            f"the source audience was recreated on TikTok (now {source_audience_id}, "
            f"was {recorded['source_audience_id']})",
        )
    if recorded.get("spec_hash") != lookalike_spec_hash(spec):
        change = describe_spec_change(recorded.get("spec"), spec)
        return LookalikePlan("rebuild", f"the lookalike settings changed ({change})")
    return LookalikePlan("check")


def describe_spec_change(old: str | Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """``audience_size BALANCED → BROAD; location_ids ...`` for the fields that differ."""
    if isinstance(old, str):
        try:
            old = json.loads(old)
        except ValueError:
            old = None
    if not isinstance(old, Mapping):
        return "settings not recorded before"
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if isinstance(before, list) and isinstance(after, list) and sorted(map(str, before)) == sorted(map(str, after)):
            continue
        if before != after:
            changes.append(f"{key} {_show(before)} → {_show(after)}")
    return "; ".join(changes) or "no visible change"


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def status_for(is_valid: bool | None) -> LookalikeStatus:
    return LookalikeStatus.ACTIVE if is_valid else LookalikeStatus.INITIATING


def needs_refresh(*, built_at: datetime | None, source_changed_at: datetime | None, now: datetime,
                  interval: timedelta = REFRESH_INTERVAL) -> bool:
    """Rebuild an unchanged lookalike from its seed when the seed's members changed since it was built.

    At most once per ``interval``: a lookalike models the seed's kind of people, which a day of
    membership changes hardly moves, and every refresh makes TikTok rebuild it for hours.
    """
    if built_at is None or source_changed_at is None or source_changed_at <= built_at:
        return False
    return now - built_at >= interval


def find_interrupted_create(
    audiences: list[Mapping[str, Any]], *, name: str, started_at: datetime, slack: timedelta = CLOCK_SLACK
) -> str | None:
    """The lookalike a create whose answer was lost made: same name, a lookalike, created since it started."""

    def is_lookalike(details: Mapping[str, Any]) -> bool:
        kind = details.get("audience_type") or details.get("type")
        return not kind or kind == LOOKALIKE_AUDIENCE_TYPE

    return reconcile.find_interrupted_create(audiences, name=name, started_at=started_at, accept=is_lookalike,
                                             slack=slack)
