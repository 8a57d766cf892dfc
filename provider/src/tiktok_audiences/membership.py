"""Audience set algebra and the diff against TikTok, as plain pandas functions.

An audience is "members of its include segments minus members of its exclude segments". Members
reach TikTok as hashed identifiers, so the audience sent is a set of ``(id_type, id_hash)`` pairs.
Exclusion wins twice: a contact in any exclude segment is out whichever identifiers it has, and an
identifier held by an excluded contact is never sent for another contact either (two contact rows
sharing an email are one person on TikTok; sending the hash would target the excluded person).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MEMBER_COLUMNS = ["contact_id", "id_type", "id_hash"]
IDENTIFIER_COLUMNS = ["id_type", "id_hash"]


def empty_members() -> pd.DataFrame:
    """A member frame with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "contact_id": pd.Series(dtype="int64"),
            "id_type": pd.Series(dtype="str"),
            "id_hash": pd.Series(dtype="str"),
        }
    )


def empty_identifiers() -> pd.DataFrame:
    return pd.DataFrame({"id_type": pd.Series(dtype="str"), "id_hash": pd.Series(dtype="str")})


@dataclass(frozen=True)
class AudienceMembers:
    """The audience as it should be on TikTok.

    :param identifiers: unique ``(id_type, id_hash)`` rows to be on TikTok
    :param size: contacts in the audience (the "Size" users see)
    :param excluded_contacts: included contacts removed because they are in an exclude segment
    :param excluded_identifiers: identifiers dropped because an excluded contact holds them
    """

    identifiers: pd.DataFrame
    size: int
    excluded_contacts: int
    excluded_identifiers: int


@dataclass(frozen=True)
class AudienceChanges:
    """What to send so that TikTok holds exactly the desired identifiers."""

    additions: pd.DataFrame
    removals: pd.DataFrame

    @property
    def is_empty(self) -> bool:
        return self.additions.empty and self.removals.empty


def build_audience(include: pd.DataFrame, exclude: pd.DataFrame) -> AudienceMembers:
    """Compute include − exclude over hashed member rows (columns ``contact_id, id_type, id_hash``)."""
    excluded_ids = pd.Index(exclude["contact_id"].unique())
    in_exclude = include["contact_id"].isin(excluded_ids)
    excluded_contacts = int(include.loc[in_exclude, "contact_id"].nunique())
    kept = include.loc[~in_exclude]

    blocked = _identifier_keys(exclude)
    held_by_excluded = _identifier_keys(kept).isin(blocked)
    excluded_identifiers = int(kept.loc[held_by_excluded, IDENTIFIER_COLUMNS].drop_duplicates().shape[0])
    kept = kept.loc[~held_by_excluded]

    identifiers = kept[IDENTIFIER_COLUMNS].drop_duplicates(ignore_index=True)
    return AudienceMembers(
        identifiers=identifiers,
        size=int(kept["contact_id"].nunique()),
        excluded_contacts=excluded_contacts,
        excluded_identifiers=excluded_identifiers,
    )


def diff_members(desired: pd.DataFrame, confirmed: pd.DataFrame) -> AudienceChanges:
    """Additions (desired, not confirmed on TikTok) and removals (confirmed, no longer desired)."""
    desired_keys = _identifier_keys(desired)
    confirmed_keys = _identifier_keys(confirmed)
    additions = desired.loc[~desired_keys.isin(confirmed_keys), IDENTIFIER_COLUMNS]
    removals = confirmed.loc[~confirmed_keys.isin(desired_keys), IDENTIFIER_COLUMNS]
    return AudienceChanges(additions.reset_index(drop=True), removals.reset_index(drop=True))


def _identifier_keys(frame: pd.DataFrame) -> pd.Series:
    # One string key per identifier: hashes are fixed-width hex, so "type:hash" is unambiguous and
    # lets pandas use its fast hash-based isin() instead of a multi-column merge.
    if frame.empty:
        return pd.Series([], dtype="str", index=frame.index)
    return frame["id_type"].astype("str") + ":" + frame["id_hash"].astype("str")
