"""include − exclude and the diff against TikTok, on small hand-made member frames."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from tiktok_audiences.members.membership import (
    Identifiers,
    build_audience,
    count_removed,
    diff_members,
    empty_identifiers,
    empty_members,
)


def h(label: str) -> str:
    """A SHA-256 hex digest standing for an identifier called ``label``."""
    return hashlib.sha256(label.encode()).hexdigest()


def members(*rows: tuple[int, str, str]) -> pd.DataFrame:
    return pd.DataFrame([(c, t, h(v)) for c, t, v in rows], columns=["contact_id", "id_type", "id_hash"]).astype(
        {"contact_id": "int64", "id_type": "str", "id_hash": "str"}
    )


def identifiers(frame: pd.DataFrame | Identifiers) -> set[tuple[str, str]]:
    if isinstance(frame, Identifiers):
        frame = frame.to_frame()
    labels = {h(v): v for v in ("a", "b", "c", "m", "p1", "x", "old", "shared")}
    return {(t, labels.get(v, v)) for t, v in zip(frame["id_type"], frame["id_hash"], strict=True)}


def test_audience_is_include_minus_excluded_contacts():
    include = members((1, "email", "a"), (1, "phone", "b"), (2, "email", "c"))
    exclude = members((1, "maid", "z"))
    audience = build_audience(include, exclude)
    assert identifiers(audience.identifiers) == {("email", "c")}
    assert audience.size == 1
    assert audience.excluded_contacts == 1


def test_identifier_of_an_excluded_contact_is_never_sent_for_another_contact():
    include = members((1, "email", "shared"), (1, "phone", "p1"))
    exclude = members((2, "email", "shared"))
    audience = build_audience(include, exclude)
    assert identifiers(audience.identifiers) == {("phone", "p1")}
    assert audience.size == 1 and audience.excluded_identifiers == 1


def test_duplicate_identifiers_across_contacts_are_sent_once():
    audience = build_audience(members((1, "email", "a"), (2, "email", "a")), empty_members())
    assert len(audience.identifiers) == 1
    assert audience.size == 2


def test_same_hash_under_two_types_is_two_identifiers():
    audience = build_audience(members((1, "email", "x"), (1, "phone", "x")), empty_members())
    assert identifiers(audience.identifiers) == {("email", "x"), ("phone", "x")}


def test_diff_adds_missing_and_removes_departed():
    desired = members((1, "email", "a"), (2, "email", "b"))[["id_type", "id_hash"]]
    confirmed = members((0, "email", "b"), (0, "email", "old"))[["id_type", "id_hash"]]
    changes = diff_members(desired, confirmed)
    assert identifiers(changes.additions) == {("email", "a")}
    assert identifiers(changes.removals) == {("email", "old")}


def test_no_change_means_empty_diff():
    desired = members((1, "email", "a"))[["id_type", "id_hash"]]
    assert diff_members(desired, desired.copy()).is_empty


def test_first_sync_adds_everything():
    desired = members((1, "email", "a"), (1, "maid", "m"))[["id_type", "id_hash"]]
    changes = diff_members(desired, empty_identifiers())
    assert identifiers(changes.additions) == identifiers(desired) and changes.removals.empty


def test_emptied_audience_removes_everything():
    confirmed = members((1, "email", "a"))[["id_type", "id_hash"]]
    changes = diff_members(empty_identifiers(), confirmed)
    assert identifiers(changes.removals) == {("email", "a")} and changes.additions.empty


def test_identifier_keys_round_trip_to_lowercase_hex():
    frame = members((1, "email", "a"), (2, "phone", "b"), (3, "maid", "m"))[["id_type", "id_hash"]]
    upper = frame.assign(id_hash=frame["id_hash"].str.upper())
    back = Identifiers.from_frame(upper).to_frame()
    assert back.values.tolist() == frame.values.tolist()
    assert str(back["id_hash"].dtype) == "str"


def test_a_hash_that_is_not_64_hex_digits_is_refused():
    with pytest.raises(ValueError, match="64 hex digits"):
        Identifiers.from_frame(pd.DataFrame({"id_type": ["email"], "id_hash": ["not-a-hash"]}))


def test_count_removed_matches_the_diff():
    desired = members((1, "email", "a"), (2, "email", "b"))[["id_type", "id_hash"]]
    confirmed = members((0, "email", "b"), (0, "email", "old"), (0, "phone", "a"))[["id_type", "id_hash"]]
    assert count_removed(desired, confirmed) == len(diff_members(desired, confirmed).removals) == 2


@pytest.mark.parametrize("collide", [False, True])
def test_set_operations_are_exact_even_when_fingerprints_collide(monkeypatch, collide):
    """Keys are compared by sorted 64-bit fingerprints, checked against all 33 bytes; when two
    different keys share a fingerprint the exact hash kernels take over."""
    import numpy as np

    from tiktok_audiences.members import membership

    if collide:  # every key of a type gets the same fingerprint
        monkeypatch.setattr(membership, "_fingerprints", lambda m: m[:, 0].astype(np.uint64))
    rng = np.random.default_rng(5)
    labels = [f"v{i}" for i in rng.integers(0, 400, 1500)]
    types = rng.choice(["email", "phone", "maid"], 1500).tolist()
    frame = pd.DataFrame({"id_type": types, "id_hash": [h(v) for v in labels]})
    keys = Identifiers.from_frame(frame)
    unique = Identifiers(membership._unique(keys.keys)).to_frame()
    assert unique.values.tolist() == frame.drop_duplicates().values.tolist()  # first occurrences, in order
    other = frame.iloc[::3]
    mask = membership._isin(keys.keys, Identifiers.from_frame(other).keys)
    wanted = set(map(tuple, other.values.tolist()))
    assert mask.tolist() == [tuple(r) in wanted for r in frame.values.tolist()]
