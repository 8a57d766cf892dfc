"""Unit tests for the identifier rules: members.identifier_types, .normalize and .hashing (no Airflow)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiktok_audiences.members.hashing import HashResult, hash_members
from tiktok_audiences.members.identifier_types import (
    ID_TYPES,
    TIKTOK_CALCULATE_TYPE,
    TIKTOK_ID_COLUMN,
    Normalization,
    default_normalization,
)
from tiktok_audiences.members.normalize import (
    REASONS,
    InvalidIdentifier,
    email_match_form,
    hash_identifier,
    hash_identifiers,
    is_sha256_hex,
    normalize_email,
    normalize_maid,
    normalize_phone,
)

HEX64 = re.compile(r"[0-9a-f]{64}")
IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reason_of(func, *args) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        func(*args)
    return info.value.reason


def frame(**columns) -> pd.DataFrame:
    """A contacts chunk; contact_id defaults to 1..n."""
    n = len(next(iter(columns.values())))
    columns.setdefault("contact_id", list(range(1, n + 1)))
    return pd.DataFrame(columns)


# ------------------------------------------------------------------ constants


def test_public_constants():
    assert ID_TYPES == ("email", "phone", "maid")
    assert TIKTOK_ID_COLUMN == {
        "email": "EMAIL_SHA256",
        "phone": "PHONE_SHA256",
        "maid": "MAID_SHA256",
    }
    # create's calculate_type enum has no MAID_* (yml_files/dmp_custom_audience_create.yml)
    assert TIKTOK_CALCULATE_TYPE == {
        "email": "EMAIL_SHA256",
        "phone": "PHONE_SHA256",
        "maid": "FIRST_SHA256",
    }


# ---------------------------------------------------------------------- email


def test_email_hash_is_sha256_of_normalized_address():
    assert (
        hash_identifier("email", "test@example.com")
        == hashlib.sha256(b"test@example.com").hexdigest()
    )


def test_email_is_trimmed_and_lowercased():
    assert normalize_email(" Test@Example.COM ") == "test@example.com"


def test_email_hash_ignores_case_and_surrounding_whitespace():
    assert hash_identifier("email", "\tTest@Example.COM \n") == sha256("test@example.com")


def test_email_is_nfc_normalized():
    decomposed = "ju\u0308rgen@example.de"  # u + combining diaeresis
    assert normalize_email(decomposed) == "j\u00fcrgen@example.de"


def test_email_keeps_dots_and_plus_tag():
    # TikTok's API-side rule is trim + lowercase; Segment's dot/+tag stripping is not applied.
    assert normalize_email("First.Last+News@Gmail.com") == "first.last+news@gmail.com"


def test_email_keeps_idn_domain_in_unicode():
    assert normalize_email("Kunde@Bücher.DE") == "kunde@bücher.de"


def test_email_accepts_unicode_local_part():
    assert normalize_email("josé@example.es") == "josé@example.es"


@pytest.mark.parametrize(
    "value",
    [
        "plainaddress",
        "a@@example.com",
        "a@b@example.com",
        "a@example",
        "a b@example.com",
        "a@exam ple.com",
        "a@example.com.",
        "@example.com",
        "a@",
        "a@-example.com",
        "a@example-.com",
        "a@.example.com",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a@10.0.0.1",
        "a@example.c",
        "John <john@example.com>",
        "a,b@example.com",
        '"john doe"@example.com',
        "n/a",
    ],
)
def test_malformed_email_is_rejected(value):
    assert reason_of(normalize_email, value) == "email_malformed"


def test_email_longer_than_254_is_too_long():
    address = "a@" + ".".join(["b" * 60] * 4) + ".example.com"
    assert len(address) > 254
    assert reason_of(normalize_email, address) == "email_too_long"


def test_email_local_part_longer_than_64_is_too_long():
    assert reason_of(normalize_email, "a" * 65 + "@example.com") == "email_too_long"


def test_email_of_exactly_64_local_chars_is_accepted():
    assert normalize_email("a" * 64 + "@example.com") == "a" * 64 + "@example.com"


# ---------------------------------------------------------------------- phone


def test_phone_international_format_needs_no_region():
    assert normalize_phone("+1 (650) 555-1234", None) == "+16505551234"


def test_phone_dotted_national_number_uses_region():
    assert normalize_phone("650.555.1234", "US") == "+16505551234"


def test_phone_region_is_case_insensitive_and_trimmed():
    assert normalize_phone("(650) 555-1234", " us ") == "+16505551234"


def test_phone_uk_national_mobile():
    assert normalize_phone("07400 123456", "GB") == "+447400123456"


def test_phone_uk_drama_range_is_invalid():
    # Ofcom reserves 07700 900xxx for fiction; libphonenumber reports it invalid,
    # so the brief's "07700 900123" example cannot be sent to TikTok.
    assert reason_of(normalize_phone, "07700 900123", "GB") == "phone_invalid"


def test_phone_double_zero_prefix_is_international():
    assert normalize_phone("0049 30 1234567", None) == "+49301234567"


def test_phone_double_zero_prefix_wins_over_region():
    assert normalize_phone("0049 30 1234567", "US") == "+49301234567"


def test_phone_region_idd_prefix_is_understood():
    assert normalize_phone("011 44 20 7946 0000", "US") == "+442079460000"


def test_phone_full_width_digits():
    assert normalize_phone("０２０ ７９４６ ００００", "GB") == "+442079460000"


def test_phone_full_width_plus():
    assert normalize_phone("＋４４ ２０ ７９４６ ００００", None) == "+442079460000"


def test_phone_extension_is_dropped():
    assert normalize_phone("(650) 555-1234 ext. 99", "US") == "+16505551234"


def test_phone_national_number_with_country_code_digits():
    assert normalize_phone("1-650-555-1234", "US") == "+16505551234"


def test_phone_uk_alias_reads_as_gb():
    assert normalize_phone("07400 123456", "UK") == "+447400123456"


def test_phone_international_number_ignores_unknown_region():
    assert normalize_phone("+1 650 555 1234", "XX") == "+16505551234"


@pytest.mark.parametrize("region", [None, "", "   "])
def test_phone_national_number_without_region(region):
    assert reason_of(normalize_phone, "650 555 1234", region) == "phone_no_region"


@pytest.mark.parametrize("region", ["USA", "XX", "001", "Deutschland"])
def test_phone_unknown_region(region):
    assert reason_of(normalize_phone, "650 555 1234", region) == "phone_unknown_region"


def test_phone_junk_text_is_unparseable():
    assert reason_of(normalize_phone, "n/a", "US") == "phone_unparseable"


def test_phone_too_short_is_invalid():
    assert reason_of(normalize_phone, "12", "US") == "phone_invalid"


def test_phone_hash_is_sha256_of_digits_by_default_and_e164_on_request():
    assert hash_identifier("phone", "650-555-1234", "US") == sha256("16505551234")
    e164 = Normalization(phone_format="e164")
    assert hash_identifier("phone", "650-555-1234", "US", e164) == sha256("+16505551234")


# ----------------------------------------------------------------------- maid


def test_maid_upper_case_idfa_is_lowercased():
    assert normalize_maid(IDFA) == IDFA.lower()


def test_maid_hash_is_sha256_of_lowercase_uuid():
    assert hash_identifier("maid", f" {IDFA} ") == sha256(IDFA.lower())


def test_maid_all_zero_is_zeroed():
    assert reason_of(normalize_maid, "00000000-0000-0000-0000-000000000000") == "maid_zeroed"


def test_maid_without_dashes_is_malformed():
    # 32 hex digits could just as well be an MD5 digest; never re-dash them.
    assert reason_of(normalize_maid, IDFA.replace("-", "")) == "maid_malformed"


@pytest.mark.parametrize("value", ["unknown", IDFA[:-1], "{" + IDFA + "}", IDFA.replace("A", "G")])
def test_maid_malformed(value):
    assert reason_of(normalize_maid, value) == "maid_malformed"


# ------------------------------------------------------- hashes and guards


@pytest.mark.parametrize(
    "value", ["a" * 64, "A" * 64, " " + "0123456789abcdefABCDEF" * 2 + "0" * 20 + " "]
)
def test_is_sha256_hex_true(value):
    assert is_sha256_hex(value)


@pytest.mark.parametrize("value", ["a" * 63, "a" * 65, "g" * 64, "", "a" * 62 + "-a"])
def test_is_sha256_hex_false(value):
    assert not is_sha256_hex(value)


@pytest.mark.parametrize("id_type", ID_TYPES)
def test_prehashed_value_passes_through_lowercased(id_type):
    digest = sha256("test@example.com")
    assert hash_identifier(id_type, " " + digest.upper() + " ", "US") == digest


@pytest.mark.parametrize(
    ("id_type", "reason"),
    [("email", "email_malformed"), ("phone", "phone_unparseable"), ("maid", "maid_malformed")],
)
def test_64_char_non_hex_is_malformed_of_its_type(id_type, reason):
    assert reason_of(hash_identifier, id_type, "z" * 64, "US") == reason


@pytest.mark.parametrize("id_type", ID_TYPES)
def test_value_over_320_chars_is_value_too_long(id_type):
    assert reason_of(hash_identifier, id_type, "a" * 321, "US") == "value_too_long"


def test_value_too_long_is_checked_before_hash_detection():
    assert reason_of(hash_identifier, "email", " " * 300 + "a" * 64) == "value_too_long"


def test_unknown_id_type_is_a_programming_error():
    with pytest.raises(ValueError) as info:
        hash_identifier("idfa", IDFA)
    assert not isinstance(info.value, InvalidIdentifier)


@pytest.mark.parametrize(
    ("id_type", "value", "region"),
    [
        ("email", "secret.person@@example.com", None),
        ("email", "secret" * 60, None),
        ("phone", "+99 secret 555", None),
        ("phone", "650 555 9876", "NOWHERE"),
        ("maid", "SECRET-MAID-VALUE", None),
    ],
)
def test_exception_message_never_contains_raw_value(id_type, value, region):
    with pytest.raises(InvalidIdentifier) as info:
        hash_identifier(id_type, value, region)
    message = str(info.value) + repr(info.value)
    assert "secret" not in message.lower() and "555" not in message and "NOWHERE" not in message
    assert info.value.reason in REASONS


# --------------------------------------------------------------- hash_members


def test_members_columns_and_dtypes():
    result = hash_members(
        frame(email=["a@example.com"], phone=["+16505551234"], mobile_ad_id=[IDFA])
    )
    assert isinstance(result, HashResult)
    assert list(result.members.columns) == ["contact_id", "id_type", "id_hash"]
    assert result.members["contact_id"].dtype == np.int64
    assert pd.api.types.is_string_dtype(result.members["id_type"])
    assert pd.api.types.is_string_dtype(result.members["id_hash"])
    assert set(result.members["id_type"]) == {"email", "phone", "maid"}
    assert all(HEX64.fullmatch(h) for h in result.members["id_hash"])


def test_members_hash_matches_hash_identifier():
    result = hash_members(frame(email=[" Test@Example.COM "]), identifiers=["email"])
    assert result.members["id_hash"].tolist() == [sha256("test@example.com")]


def test_members_same_contact_duplicates_are_collapsed():
    result = hash_members(
        frame(contact_id=[7, 7], email=["a@example.com", " A@EXAMPLE.COM"]), identifiers=["email"]
    )
    assert result.members.to_dict("records") == [
        {"contact_id": 7, "id_type": "email", "id_hash": sha256("a@example.com")}
    ]


def test_members_shared_identifier_kept_per_contact():
    result = hash_members(frame(email=["a@example.com", "A@example.com"]), identifiers=["email"])
    assert result.members["contact_id"].tolist() == [1, 2]


def test_members_prehashed_and_plain_forms_collapse():
    digest = sha256("a@example.com")
    result = hash_members(
        frame(contact_id=[1, 1], email=["a@example.com", digest.upper()]), ["email"]
    )
    assert result.members["id_hash"].tolist() == [digest]


def test_members_invalid_values_counted_by_reason():
    result = hash_members(
        frame(
            email=["bad", "also@bad", "ok@example.com", "x" * 321],
            phone=["650 555 1234", "n/a", "12", "+16505551234"],
            phone_country=[None, "US", "US", None],
            mobile_ad_id=["00000000-0000-0000-0000-000000000000", "nope", IDFA, None],
        )
    )
    assert result.invalid == {
        "email_malformed": 2,
        "value_too_long": 1,
        "phone_no_region": 1,
        "phone_unparseable": 1,
        "phone_invalid": 1,
        "maid_zeroed": 1,
        "maid_malformed": 1,
    }


def test_members_null_and_blank_are_missing_not_invalid():
    result = hash_members(
        frame(
            email=[None, np.nan, "", "  \t"],
            phone=[None, "", " ", np.nan],
            phone_country=["US", "US", None, None],
            mobile_ad_id=[None, None, None, ""],
        )
    )
    assert result.missing == {"email": 4, "phone": 4, "maid": 4}
    assert result.invalid == {}
    assert result.members.empty


def test_members_missing_reports_every_requested_type():
    result = hash_members(frame(email=["a@example.com"]), identifiers=["email"])
    assert result.missing == {"email": 0}


def test_members_only_requested_types_need_columns():
    result = hash_members(frame(mobile_ad_id=[IDFA]), identifiers=["maid"])
    assert result.members["id_type"].tolist() == ["maid"]


def test_members_requested_column_absent_raises():
    with pytest.raises(ValueError, match="mobile_ad_id"):
        hash_members(frame(email=["a@example.com"]), identifiers=["email", "maid"])


def test_members_unknown_identifier_type_raises():
    with pytest.raises(ValueError, match="idfa"):
        hash_members(frame(email=["a@example.com"]), identifiers=["idfa"])


def test_members_null_contact_id_raises():
    with pytest.raises(ValueError, match="contact_id"):
        hash_members(
            frame(contact_id=[None, 2.0], email=["a@example.com", "b@example.com"]), ["email"]
        )


def test_members_without_phone_country_column_has_no_region():
    result = hash_members(frame(phone=["650 555 1234", "+16505551234"]), identifiers=["phone"])
    assert result.invalid == {"phone_no_region": 1}
    assert len(result.members) == 1


def test_members_phone_cache_is_keyed_on_region():
    result = hash_members(
        frame(phone=["07400 123456", "07400 123456"], phone_country=["GB", "US"]),
        identifiers=["phone"],
    )
    assert result.members["id_hash"].tolist() == [sha256("447400123456")]
    assert result.invalid == {"phone_invalid": 1}


def test_members_numeric_phone_column_is_read_as_digits():
    result = hash_members(
        frame(phone=[6505551234.0, np.nan], phone_country=["US", "US"]), identifiers=["phone"]
    )
    assert result.members["id_hash"].tolist() == [sha256("16505551234")]


def test_members_non_default_index_keeps_contact_alignment():
    chunk = frame(contact_id=[10, 20], email=["a@example.com", "b@example.com"])
    chunk.index = [500, 3]
    result = hash_members(chunk, identifiers=["email"])
    assert result.members.set_index("contact_id")["id_hash"].to_dict() == {
        10: sha256("a@example.com"),
        20: sha256("b@example.com"),
    }


def test_members_empty_frame():
    empty = pd.DataFrame(
        {
            c: pd.Series(dtype=object)
            for c in ["contact_id", "email", "phone", "phone_country", "mobile_ad_id"]
        }
    )
    result = hash_members(empty)
    assert result.members.empty
    assert list(result.members.columns) == ["contact_id", "id_type", "id_hash"]
    assert result.members["contact_id"].dtype == np.int64
    assert result.missing == {"email": 0, "phone": 0, "maid": 0}


def test_members_all_null_column():
    result = hash_members(frame(mobile_ad_id=[None, None]), identifiers=["maid"])
    assert result.missing == {"maid": 2}


def test_members_invalid_keys_are_known_reasons_only():
    result = hash_members(
        frame(
            email=["secret@@x.com"], phone=["secret"], phone_country=["US"], mobile_ad_id=["secret"]
        )
    )
    assert set(result.invalid) <= set(REASONS)
    assert "secret" not in repr(result.invalid)


# ------------------------------------------------------------------- properties

_realistic = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
    st.from_regex(
        r"[ ]?[A-Za-z0-9._+\-]{1,20}@[a-zA-Z0-9ü\-]{1,12}\.[a-zA-Z]{2,4}[ ]?", fullmatch=True
    ),
    st.from_regex(r"(\+|00)?[0-9 ().\-]{1,20}", fullmatch=True),
    st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True),
    st.uuids().map(str).map(str.upper),
)
_regions = st.one_of(
    st.none(), st.sampled_from(["US", "gb", " DE ", "", "XX", "UK", "JP"]), st.text(max_size=4)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(id_type=st.sampled_from(ID_TYPES), value=_realistic, region=_regions)
def test_property_hash_is_64_lowercase_hex_or_invalid(id_type, value, region):
    try:
        digest = hash_identifier(id_type, value, region)
    except InvalidIdentifier as exc:
        assert exc.reason in REASONS
    else:
        assert HEX64.fullmatch(digest)


_normalizations = st.builds(
    Normalization,
    phone_format=st.sampled_from(["digits", "e164", "both"]),
    email_plus_suffix=st.sampled_from(["remove", "keep"]),
    email_dots=st.sampled_from(["keep", "gmail", "remove"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    normalization=_normalizations,
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), _realistic),
            st.one_of(st.none(), _realistic),
            _regions,
            st.one_of(st.none(), _realistic),
        ),
        max_size=25,
    )
)
def test_property_members_agree_with_hash_identifier(rows, normalization):
    chunk = pd.DataFrame(
        rows, columns=["email", "phone", "phone_country", "mobile_ad_id"], dtype=object
    )
    chunk.insert(0, "contact_id", range(1, len(rows) + 1))
    result = hash_members(chunk, normalization=normalization)

    expected: set[tuple[int, str, str]] = set()
    invalid: dict[str, int] = {}
    missing = dict.fromkeys(ID_TYPES, 0)
    for contact_id, (email, phone, region, maid) in enumerate(rows, start=1):
        for id_type, value in (("email", email), ("phone", phone), ("maid", maid)):
            if value is None or (not value.strip() and len(value) <= 320):
                missing[id_type] += 1
                continue
            try:
                for digest in hash_identifiers(id_type, value, region, normalization):
                    expected.add((contact_id, id_type, digest))
            except InvalidIdentifier as exc:
                invalid[exc.reason] = invalid.get(exc.reason, 0) + 1

    assert set(result.members.itertuples(index=False, name=None)) == expected
    assert len(result.members) == len(expected)
    assert result.invalid == dict(sorted(invalid.items()))
    assert result.missing == missing


# ------------------------------------------------- TikTok's own examples and the options
# TikTok's customer-file pages: https://ads.tiktok.com/help/article/list-of-supported-ids-and-formats-for-a-customer-file
# (Aug 2025) and https://ads.tiktok.com/help/article/how-to-create-a-custom-audience-with-a-customer-file
# (Sept 2025, worked example hashes). Partner API: PHONE_SHA256 = "SHA256 of an E.164 phone, e.g.
# +1231234567" (bububa/tiktok-business model/dmp/segment_mapping.go).


def test_tiktok_worked_example_phone_hash_comes_out_of_the_customer_file_default():
    # TikTok's Sept 2025 page: +37493828222 "Hashed: 65b7e6dc…" — the SHA-256 of the digits without "+".
    expected = "65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4"
    assert hash_identifier("phone", "+37493828222") == expected
    # The Aug 2025 page's own spelling of the same number, with its country code and no "+".
    assert hash_identifier("phone", "374-93-828222", "AM") == expected


def test_tiktok_aug_2025_phone_examples_normalize_to_its_digits():
    assert hash_identifier("phone", "(657)777-0000", "US") == sha256("16577770000")
    assert hash_identifier("phone", "374-93-828222", "AM") == sha256("37493828222")


def test_partner_default_is_e164_with_plus():
    partner = default_normalization("partner")
    assert partner.phone_format == "e164"
    assert hash_identifier("phone", "+37493828222", None, partner) == sha256("+37493828222")
    assert sha256("+37493828222").startswith("241371e6")
    assert default_normalization("customer_file") == Normalization()


def test_both_phone_forms_give_two_hashes_digits_first():
    both = Normalization(phone_format="both")
    assert hash_identifiers("phone", "(657)777-0000", "US", both) == (
        sha256("16577770000"),
        sha256("+16577770000"),
    )
    with pytest.raises(ValueError, match="hash_identifiers"):
        hash_identifier("phone", "(657)777-0000", "US", both)


def test_both_phone_forms_are_two_member_rows_of_one_contact():
    result = hash_members(
        frame(phone=["(657)777-0000", None], phone_country=["US", None]),
        identifiers=["phone"],
        normalization=Normalization(phone_format="both"),
    )
    assert result.members[["contact_id", "id_hash"]].values.tolist() == [
        [1, sha256("16577770000")],
        [1, sha256("+16577770000")],
    ]
    assert result.missing == {"phone": 1}


def test_prehashed_phone_is_sent_once_whatever_the_form():
    digest = sha256("16577770000")
    assert hash_identifiers("phone", digest, None, Normalization(phone_format="both")) == (digest,)


def test_tiktok_worked_example_email_and_maid_hashes():
    # Same Sept 2025 page: "janedoe@gmail.com" -> d6117306…, MAID 5f3a2b18-… -> 83dc3f5f….
    assert hash_identifier("email", " JaneDoe@Gmail.com ") == (
        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"
    )
    assert hash_identifier("maid", "5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25") == (
        "83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd"
    )


def test_plus_suffix_is_removed_by_default_for_every_domain():
    # TikTok (Aug 2025): "Remove '+' and any characters following the '+' symbol until '@'".
    assert hash_identifier("email", "jane+news@example.org") == sha256("jane@example.org")
    assert hash_identifier("email", "jane+a+b@gmail.com") == sha256("jane@gmail.com")
    keep = Normalization(email_plus_suffix="keep")
    assert hash_identifier("email", "jane+news@example.org", None, keep) == sha256("jane+news@example.org")


def test_plus_that_starts_the_local_part_is_kept():
    assert email_match_form("+jane@example.org") == "+jane@example.org"


def test_dots_are_kept_by_default_removed_for_gmail_or_everywhere_on_request():
    assert hash_identifier("email", "jane.doe@example.org") == sha256("jane.doe@example.org")
    gmail = Normalization(email_dots="gmail")
    assert email_match_form("jane.doe@gmail.com", gmail) == "janedoe@gmail.com"
    assert email_match_form("jane.doe@googlemail.com", gmail) == "janedoe@googlemail.com"
    assert email_match_form("jane.doe@example.org", gmail) == "jane.doe@example.org"
    everywhere = Normalization(email_dots="remove")
    assert email_match_form("jane.doe@mail.example.org", everywhere) == "janedoe@mail.example.org"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        # Segment's normalizeEmail (segmentio/action-destinations
        # packages/destination-actions/src/destinations/tiktok-audiences/syncAudience/functions.ts):
        # strip the +tag, drop dots in the local part only (domain dots kept since PR #1387), lowercase.
        ("John.Doe+promo@Example.co.uk", "johndoe@example.co.uk"),
        ("j.o.h.n@gmail.com", "john@gmail.com"),
        ("plain@example.com", "plain@example.com"),
    ],
)
def test_segment_cases_with_dots_removed_everywhere(address, expected):
    segment_like = Normalization(email_dots="remove")
    assert hash_identifier("email", address, None, segment_like) == sha256(expected)


def test_options_never_turn_an_invalid_email_valid():
    assert reason_of(hash_identifier, "email", "jane+@", None) == "email_malformed"


def test_unknown_option_values_are_refused():
    with pytest.raises(ValueError, match="phone_format"):
        Normalization(phone_format="plus")
    with pytest.raises(ValueError, match="email_dots"):
        Normalization(email_dots="all")


def test_normalization_from_settings_overrides_the_api_default():
    assert Normalization.from_settings({"email_dots": "gmail"}, "partner") == Normalization(
        phone_format="e164", email_dots="gmail"
    )
    assert Normalization.from_settings(None) == Normalization()
