"""The partner (Audience Segment API) payloads and mode rules: pure functions, no Airflow, no HTTP."""

from __future__ import annotations

import pandas as pd
import pytest

from tiktok_audiences.tiktok.partner import (
    MAX_MAPPING_USERS,
    is_api_of,
    mapping_batch,
    mapping_batches,
    partner_audience_name,
    resolve_api,
)

E, P, M = "e" * 64, "f" * 64, "a" * 64


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id_type", "id_hash"])


def test_one_user_per_identifier_with_empty_objects_in_the_other_positions():
    batch = mapping_batch("123", frame([("email", E), ("phone", P), ("maid", M)]))
    assert batch.id_schema == ["EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256"]
    entry = {"audience_ids": ["123"]}
    assert batch.batch_data == [
        [{"id": E, **entry}, {}, {}],
        [{}, {"id": P, **entry}, {}],
        [{}, {}, {"id": M, **entry}],
    ]


def test_id_schema_lists_only_the_types_present_in_the_batch():
    batch = mapping_batch("123", frame([("phone", P), ("maid", M)]))
    assert batch.id_schema == ["PHONE_SHA256", "IDFA_SHA256"]
    assert batch.batch_data == [[{"id": P, "audience_ids": ["123"]}, {}], [{}, {"id": M, "audience_ids": ["123"]}]]


def test_single_type_batch_has_no_placeholders():
    batch = mapping_batch("9", frame([("email", E)]))
    assert batch.id_schema == ["EMAIL_SHA256"] and batch.batch_data == [[{"id": E, "audience_ids": ["9"]}]]


def test_unknown_identifier_type_is_refused():
    with pytest.raises(ValueError, match="unknown identifier"):
        mapping_batch("1", frame([("fax", E)]))


def test_batches_never_exceed_tiktoks_10000_users():
    identifiers = frame([("email", f"{i:064x}") for i in range(MAX_MAPPING_USERS + 5)])
    assert [len(b) for b in mapping_batches(identifiers, 500_000)] == [MAX_MAPPING_USERS, 5]
    assert [len(b) for b in mapping_batches(identifiers.iloc[:7], 3)] == [3, 3, 1]


def test_long_names_are_cut_as_tiktok_cuts_them():
    assert partner_audience_name("n" * 70) == "n" * 70
    assert partner_audience_name("n" * 80) == "n" * 67 + "..."


def test_audience_file_wins_over_integration_and_customer_file_is_the_default():
    assert resolve_api(None, None) == "customer_file"
    assert resolve_api(None, "partner") == "partner"
    assert resolve_api("customer_file", "partner") == "customer_file"


def test_audience_kind_is_read_from_audience_type_or_type():
    assert is_api_of({"audience_type": "Partner"}, "partner")
    assert not is_api_of({"type": "Partner"}, "customer_file")
    assert is_api_of({"audience_type": "Customer File Audience"}, "customer_file")
    assert is_api_of({}, "partner")  # an item without a type is not ruled out
