"""Normalize and SHA-256-hash contact identifiers the way TikTok matches them.

TikTok matches audience members on lowercase hex SHA-256 digests of a *normalized*
email address, phone number or mobile advertising id (MAID). A digest of a value
that was normalized differently from TikTok's side never matches, so the rules
here follow the TikTok Marketing API fact sheet, section 6
(``shared/reference/tiktok-marketing-api.md``); ``docs/identifiers.md`` lists every
rule, every decision and the source behind it.

Two layers share the same rules:

* scalar functions (:func:`normalize_email`, :func:`normalize_phone`,
  :func:`normalize_maid`, :func:`hash_identifier`) for single values and tests;
* :func:`hash_members`, which does the same thing over a pandas chunk of contacts
  (up to ~100k rows at a time), vectorized with pandas string methods for emails
  and MAIDs, a per-call cache for phones and one SHA-256 per distinct value.

Privacy: raw identifier values never appear in exception messages, reasons or
counts; invalid values are only ever reported as ``reason -> count``.

This module is pure Python/pandas and must not import Airflow.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import phonenumbers

__all__ = [
    "DEFAULT_NORMALIZATION",
    "EMAIL_DOTS",
    "EMAIL_PLUS_SUFFIX",
    "ID_TYPES",
    "INPUT_COLUMN",
    "MAX_EMAIL_LENGTH",
    "MAX_EMAIL_LOCAL_LENGTH",
    "MAX_RAW_LENGTH",
    "NORMALIZATION_VERSION",
    "OUTCOMES",
    "PHONE_FORMATS",
    "PHONE_REGION_COLUMN",
    "REASONS",
    "TIKTOK_CALCULATE_TYPE",
    "TIKTOK_ID_COLUMN",
    "HashResult",
    "InvalidIdentifier",
    "Normalization",
    "default_normalization",
    "email_match_form",
    "hash_identifier",
    "hash_identifiers",
    "hash_members",
    "is_sha256_hex",
    "normalize_email",
    "normalize_maid",
    "normalize_phone",
    "outcome_counts",
    "phone_match_forms",
]

ID_TYPES: tuple[str, ...] = ("email", "phone", "maid")
"""Identifier types this package sends, in the order they are processed."""

TIKTOK_ID_COLUMN: dict[str, str] = {
    "email": "EMAIL_SHA256",
    "phone": "PHONE_SHA256",
    "maid": "MAID_SHA256",
}
"""Customer-file header naming each identifier type's column (TikTok's help page "List of supported
IDs and formats for a customer file": Email_SHA256, Phone_SHA256, MAID_SHA256)."""

TIKTOK_CALCULATE_TYPE: dict[str, str] = {
    "email": "EMAIL_SHA256",
    "phone": "PHONE_SHA256",
    # Create's strict enum has no MAID_*: mobile ids (IDFA or GAID) are FIRST_SHA256 there, and the
    # upload enum gives MAID_SHA256 the same value (6); uploads use FIRST_SHA256 too, so the files and
    # the create agree. tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_create.yml,
    # yml_files/dmp_custom_audience_file_upload.yml.
    "maid": "FIRST_SHA256",
}
"""TikTok's ``calculate_type`` (create, update's files, upload) for an audience of one identifier type."""

INPUT_COLUMN: dict[str, str] = {"email": "email", "phone": "phone", "maid": "mobile_ad_id"}
"""Column of the reference ``contacts`` table that holds each identifier type."""

PHONE_REGION_COLUMN = "phone_country"
"""Column holding the ISO 3166-1 alpha-2 region used to read national phone numbers."""

MAX_RAW_LENGTH = 320
"""Longer raw values are rejected before any parsing (guards regex/phone parsing cost)."""

MAX_EMAIL_LENGTH = 254
"""RFC 5321 path limit (256 octets incl. angle brackets), counted in characters here."""

MAX_EMAIL_LOCAL_LENGTH = 64
"""RFC 5321 local-part limit, counted in characters here."""

REASONS: dict[str, str] = {
    "value_too_long": f"value is longer than {MAX_RAW_LENGTH} characters",
    "email_malformed": "not a well-formed email address",
    "email_too_long": (
        f"email address is longer than {MAX_EMAIL_LENGTH} characters "
        f"or its local part is longer than {MAX_EMAIL_LOCAL_LENGTH}"
    ),
    "phone_no_region": "national phone number and no phone_country to read it with",
    "phone_unknown_region": "phone_country is not a known ISO 3166-1 alpha-2 region",
    "phone_unparseable": "phone number could not be parsed",
    "phone_invalid": "phone number is not a valid number for its country",
    "maid_malformed": "mobile advertising id is not a dashed UUID",
    "maid_zeroed": "mobile advertising id is all zeros (limited ad tracking)",
}
"""Stable reason keys (used in counts and on :class:`InvalidIdentifier`) -> explanation.

The explanations are fixed text: they never include the offending value.
"""

NORMALIZATION_VERSION = 2
"""Version of the normalization rules. Bump it with ANY change to how a raw value becomes a hash
(or becomes invalid): the identifier cache (:mod:`tiktok_audiences.members.identifier_cache`) reuses hashes
only when they were computed under the same version, the same libphonenumber release and the same
:class:`Normalization` options. 2: phone forms and email options (issue 15)."""

PHONE_FORMATS: tuple[str, ...] = ("digits", "e164", "both")
"""How a phone number is hashed: ``digits`` = country code and number without ``+``
(``16577770000``, TikTok's customer-file page of Aug 2025 and the worked example hash of its Sept 2025
page), ``e164`` = with ``+`` (``+16577770000``, what the Audience Segment / partner API documents),
``both`` = one record of each form. See docs/identifiers.md."""

EMAIL_PLUS_SUFFIX: tuple[str, ...] = ("remove", "keep")
"""``remove``: ``jane+news@x.com`` is sent as ``jane@x.com`` (TikTok's customer-file format page)."""

EMAIL_DOTS: tuple[str, ...] = ("keep", "gmail", "remove")
"""Dots in the local part: kept, removed for Gmail addresses only, or removed for every domain."""

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Domains whose mailboxes ignore dots in the local part (Google's documented Gmail behaviour)."""


@dataclass(frozen=True)
class Normalization:
    """The options that change which string of a valid identifier is hashed (audience file ``normalization:``).

    The defaults are the customer-file API's; :func:`default_normalization` gives each API's. Any
    option is part of the identifier cache's key (:func:`as_key`), because it changes hashes.

    :param phone_format: one of :data:`PHONE_FORMATS`
    :param email_plus_suffix: one of :data:`EMAIL_PLUS_SUFFIX`
    :param email_dots: one of :data:`EMAIL_DOTS`
    """

    phone_format: str = "digits"
    email_plus_suffix: str = "remove"
    email_dots: str = "keep"

    def __post_init__(self) -> None:
        for name, allowed in (("phone_format", PHONE_FORMATS), ("email_plus_suffix", EMAIL_PLUS_SUFFIX),
                              ("email_dots", EMAIL_DOTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")

    @property
    def phone_forms(self) -> tuple[str, ...]:
        """The phone forms sent, in the order they are written: ``("digits",)``, ``("e164",)`` or both."""
        return ("digits", "e164") if self.phone_format == "both" else (self.phone_format,)

    def as_key(self) -> dict[str, str]:
        return {"phone_format": self.phone_format, "email_plus_suffix": self.email_plus_suffix,
                "email_dots": self.email_dots}

    @classmethod
    def from_settings(cls, settings: dict[str, str] | None, api: str = "customer_file") -> Normalization:
        """The API's defaults overridden by the audience file's ``normalization:`` block (validated there)."""
        base = default_normalization(api)
        values = {**base.as_key(), **{k: v for k, v in (settings or {}).items() if v is not None}}
        return cls(**values)


def default_normalization(api: str = "customer_file") -> Normalization:
    """Each API's defaults: digits for customer files, E.164 with ``+`` for the partner API.

    Why each: docs/identifiers.md (TikTok's customer-file pages vs the Audience Segment API's
    ``PHONE_SHA256`` description, "SHA256 of an E.164 phone number, e.g. +1231234567").
    """
    if api == "partner":
        return Normalization(phone_format="e164")
    return Normalization()


DEFAULT_NORMALIZATION = Normalization()

OUTCOMES: tuple[str, ...] = ("hashed", "missing", *REASONS)
"""Per-contact outcome of one identifier column, as small integer codes (index in this tuple):
hashed, missing (NULL/blank), or the :data:`REASONS` key it was rejected for."""
_OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_MAID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ZERO_MAID = "00000000-0000-0000-0000-000000000000"

# Email shape, applied to the already trimmed, NFC-normalized, lowercased address.
# Local part: dot-atoms of any character except whitespace, controls, '@' and the
# RFC 5322 specials; UTF-8 local parts (RFC 6531) are allowed. Quoted local parts
# ("john doe"@x) are rejected: they are vanishingly rare in marketing data and
# usually a sign of a broken export.
_LOCAL_CHAR = r"[^\s@\"(),:;<>\[\]\\.\x00-\x1f\x7f]"
_LOCAL = rf"{_LOCAL_CHAR}+(?:\.{_LOCAL_CHAR}+)*"
# Domain labels: ASCII letters/digits/hyphen (not at either end) or any non-ASCII
# character, so IDN domains such as bücher.de are accepted as unicode. Whitespace
# and lone surrogates are excluded by the look-aheads on the whole pattern.
_LABEL_CHAR = r"[a-z0-9\u0080-\U0010ffff]"
_LABEL = rf"{_LABEL_CHAR}(?:[a-z0-9\-\u0080-\U0010ffff]{{0,61}}{_LABEL_CHAR})?"
# Top-level label: at least two characters and not all digits (rejects IP literals
# such as user@10.0.0.1 and typos such as user@example.c).
_TLD = rf"(?![0-9]+$){_LABEL_CHAR}[a-z0-9\-\u0080-\U0010ffff]{{0,61}}{_LABEL_CHAR}"
_EMAIL = re.compile(
    rf"(?!.*\s)(?!.*[\ud800-\udfff]){_LOCAL}@(?:{_LABEL}\.)+{_TLD}",
    re.DOTALL,
)

# The ISO 3166-1 code "UK" is "exceptionally reserved" for the United Kingdom and is
# a common data-entry mistake for GB; libphonenumber only knows GB.
_REGION_ALIASES: dict[str, str] = {"UK": "GB"}
# "00" is the ITU-recommended international prefix used by most countries; treat it
# like "+" regardless of phone_country (other prefixes such as US "011" are still
# understood by libphonenumber when phone_country is given).
_DOUBLE_ZERO_PREFIX = re.compile(r"^([\s\-.()/]*)00")


class InvalidIdentifier(ValueError):
    """An identifier that cannot be normalized.

    ``reason`` is a stable snake_case key from :data:`REASONS`. The message is
    built only from the reason, never from the offending value, so exceptions can
    be logged safely.
    """

    def __init__(self, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason key {reason!r}")
        self.reason = reason
        super().__init__(f"{reason}: {REASONS[reason]}")


# --------------------------------------------------------------------------- scalar


def is_sha256_hex(value: str) -> bool:
    """Return True when ``value`` (after trimming) is exactly 64 hex digits, any case.

    Such values are taken to be already hashed (Segment does the same, fact sheet §6).
    """
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value.strip()) is not None


def normalize_email(value: str) -> str:
    """Trim, NFC-normalize and lowercase an email address, then validate its shape.

    Dots and ``+tags`` in the local part are kept here (:func:`email_match_form` applies the
    audience's options to the result) and IDN domains stay in unicode (no punycode); see
    ``docs/identifiers.md`` for why.

    Raises:
        InvalidIdentifier: ``value_too_long``, ``email_too_long`` or ``email_malformed``.
    """
    _check_raw_length(value)
    text = _email_text(value)
    reason = _email_problem(text)
    if reason is not None:
        raise InvalidIdentifier(reason)
    return text


def normalize_phone(value: str, region: str | None) -> str:
    """Return the E.164 form (``+`` and digits) of a phone number.

    Numbers written with ``+`` or ``00`` carry their own country code and ignore
    ``region``. Any other number is read as a national number of ``region`` (ISO
    3166-1 alpha-2, case-insensitive, blank means unknown). Spaces, dashes, dots,
    parentheses and full-width characters are accepted; an extension is dropped.

    Raises:
        InvalidIdentifier: ``value_too_long``, ``phone_no_region``,
            ``phone_unknown_region``, ``phone_unparseable`` or ``phone_invalid``.
    """
    _check_raw_length(value)
    e164, reason = _phone_outcome(value.strip(), _normalize_region(region))
    if reason is not None:
        raise InvalidIdentifier(reason)
    assert e164 is not None  # _phone_outcome returns exactly one of the two
    return e164


def normalize_maid(value: str) -> str:
    """Trim and lowercase a mobile advertising id (IDFA/GAID) and check it is a UUID.

    Only the dashed 8-4-4-4-12 form is accepted: 32 hex digits without dashes are
    indistinguishable from an MD5 digest (TikTok also takes ``*_MD5`` MAIDs), so
    re-dashing them could silently hash a hash.

    Raises:
        InvalidIdentifier: ``value_too_long``, ``maid_malformed`` or ``maid_zeroed``.
    """
    _check_raw_length(value)
    text = value.strip().lower()
    reason = _maid_problem(text)
    if reason is not None:
        raise InvalidIdentifier(reason)
    return text


def email_match_form(email: str, normalization: Normalization = DEFAULT_NORMALIZATION) -> str:
    """Apply the ``+suffix`` and dot options to an address :func:`normalize_email` returned.

    A ``+`` that starts the local part is kept (nothing would be left of the mailbox name).
    """
    local, _, domain = email.rpartition("@")
    if normalization.email_plus_suffix == "remove":
        plus = local.find("+")
        if plus > 0:
            local = local[:plus]
    if normalization.email_dots == "remove" or (normalization.email_dots == "gmail" and domain in GMAIL_DOMAINS):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def phone_match_forms(e164: str, normalization: Normalization = DEFAULT_NORMALIZATION) -> tuple[str, ...]:
    """The strings hashed for a phone :func:`normalize_phone` returned (one, or two for ``both``)."""
    return tuple(e164[1:] if form == "digits" else e164 for form in normalization.phone_forms)


def hash_identifiers(
    id_type: str, value: str, region: str | None = None, normalization: Normalization = DEFAULT_NORMALIZATION
) -> tuple[str, ...]:
    """Return the lowercase hex SHA-256 digests TikTok is sent for one identifier.

    One digest, except for a phone with ``phone_format: both`` (digits first, then E.164). A value
    that already is 64 hex digits is passed through lowercased and is not hashed again (whatever the
    options: its form was chosen by whoever hashed it). ``region`` is only used for phone numbers.

    Raises:
        ValueError: ``id_type`` is not one of :data:`ID_TYPES`.
        InvalidIdentifier: the value cannot be normalized (see the normalizers).
    """
    if id_type not in ID_TYPES:
        raise ValueError(f"unknown id_type {id_type!r}; expected one of {ID_TYPES}")
    _check_raw_length(value)
    if is_sha256_hex(value):
        return (value.strip().lower(),)
    if id_type == "email":
        forms: tuple[str, ...] = (email_match_form(normalize_email(value), normalization),)
    elif id_type == "phone":
        forms = phone_match_forms(normalize_phone(value, region), normalization)
    else:
        forms = (normalize_maid(value),)
    return tuple(_sha256(text) for text in forms)


def hash_identifier(
    id_type: str, value: str, region: str | None = None, normalization: Normalization = DEFAULT_NORMALIZATION
) -> str:
    """Return the lowercase hex SHA-256 TikTok expects for one identifier (see :func:`hash_identifiers`).

    Raises:
        ValueError: ``id_type`` is unknown, or ``normalization`` sends a phone in two forms
            (use :func:`hash_identifiers`).
        InvalidIdentifier: the value cannot be normalized (see the normalizers).
    """
    if id_type == "phone" and normalization.phone_format == "both":
        raise ValueError("phone_format 'both' gives two hashes; use hash_identifiers")
    return hash_identifiers(id_type, value, region, normalization)[0]


# ----------------------------------------------------------------- scalar helpers


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_raw_length(value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"identifier must be str, not {type(value).__name__}")
    if len(value) > MAX_RAW_LENGTH:
        raise InvalidIdentifier("value_too_long")


def _email_text(value: str) -> str:
    # Order as specified: trim, NFC (so composed and decomposed "ü" hash alike), lowercase.
    return unicodedata.normalize("NFC", value.strip()).lower()


def _email_problem(text: str) -> str | None:
    if len(text) > MAX_EMAIL_LENGTH or text.find("@") > MAX_EMAIL_LOCAL_LENGTH:
        return "email_too_long"
    if _EMAIL.fullmatch(text) is None:
        return "email_malformed"
    return None


def _maid_problem(text: str) -> str | None:
    if _MAID.fullmatch(text) is None:
        return "maid_malformed"
    if text == _ZERO_MAID:
        return "maid_zeroed"
    return None


def _normalize_region(region: str | None) -> str | None:
    """Uppercase an ISO alpha-2 region; blank or missing becomes None."""
    if region is None or not isinstance(region, str):
        return None
    code = region.strip().upper()
    if not code:
        return None
    return _REGION_ALIASES.get(code, code)


def _phone_outcome(text: str, region: str | None) -> tuple[str | None, str | None]:
    """Return ``(e164, None)`` or ``(None, reason)`` for a trimmed phone string.

    Pure and deterministic for its two arguments, which is what makes the
    per-call ``(raw, region)`` cache in :func:`hash_members` safe.
    """
    # NFKC turns full-width digits and the full-width plus into ASCII so the
    # prefix checks below see them (libphonenumber itself would cope either way).
    text = unicodedata.normalize("NFKC", text)
    international = _DOUBLE_ZERO_PREFIX.sub(r"\1+", text, count=1)
    if international.lstrip(" -.()/").startswith("+"):
        # The number carries its country code; phone_country is irrelevant and is
        # deliberately not validated (a wrong region must not reject a good number).
        parse_region: str | None = None
        text = international
    elif region is None:
        return None, "phone_no_region"
    elif region not in phonenumbers.SUPPORTED_REGIONS:
        return None, "phone_unknown_region"
    else:
        parse_region = region
    try:
        number = phonenumbers.parse(text, parse_region)
    except phonenumbers.NumberParseException:
        return None, "phone_unparseable"
    if not phonenumbers.is_valid_number(number):
        return None, "phone_invalid"
    # E.164 never includes the extension, which TikTok could not match anyway.
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


# ------------------------------------------------------------------- vectorized


@dataclass(frozen=True)
class HashResult:
    """Outcome of :func:`hash_members` for one chunk of contacts.

    Attributes:
        members: columns ``contact_id`` (int64), ``id_type`` (``email``/``phone``/
            ``maid``) and ``id_hash`` (64 lowercase hex), one row per distinct
            ``(contact_id, id_type, id_hash)``.
        invalid: reason key -> number of rows rejected for it (only non-zero keys).
        missing: requested id type -> number of NULL/blank values (every requested
            type is present, zero included). Missing values are not errors.
        outcomes: requested id type -> int8 array aligned with the input rows: the
            index in :data:`OUTCOMES` of what happened to that contact's value
            (what the identifier cache keeps to recount ``invalid``/``missing``).
    """

    members: pd.DataFrame
    invalid: dict[str, int]
    missing: dict[str, int]
    outcomes: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class _Normalized:
    """Per-row outcome for the non-missing values of one identifier column."""

    positions: np.ndarray  # row positions (into the frame) that produced a hash
    hashes: np.ndarray  # object array of 64-hex strings, aligned with positions
    reasons: list[str]  # one reason per rejected row
    codes: np.ndarray  # int8 outcome code (index in OUTCOMES) per input row


def hash_members(
    frame: pd.DataFrame,
    identifiers: Sequence[str] = ID_TYPES,
    normalization: Normalization = DEFAULT_NORMALIZATION,
) -> HashResult:
    """Normalize and hash the identifiers of a chunk of contacts.

    Args:
        frame: columns ``contact_id`` plus, for each requested identifier type, its
            column from :data:`INPUT_COLUMN` (``email``, ``phone``, ``mobile_ad_id``);
            ``phone_country`` is optional (absent means no region). Values are
            strings or None/NaN; integer-like numbers are read as digit strings.
        identifiers: which of :data:`ID_TYPES` to produce.
        normalization: the audience's options (phone form(s), email ``+suffix`` and dots).

    Returns:
        A :class:`HashResult`. Results equal calling :func:`hash_identifiers` per
        row, except that NULL/blank values are counted as missing, not invalid.
        With ``phone_format: both`` a contact's phone gives two member rows.

    Raises:
        ValueError: unknown identifier type, a requested column is absent, or
            ``contact_id`` has NULLs.
    """
    wanted = _requested_types(identifiers)
    _check_columns(frame, wanted)
    contact_ids = _contact_ids(frame)

    parts: list[pd.DataFrame] = []
    invalid: Counter[str] = Counter()
    missing: dict[str, int] = {}
    outcomes: dict[str, np.ndarray] = {}
    for id_type in wanted:
        raw = _text_column(frame, INPUT_COLUMN[id_type])
        outcome, missing[id_type] = _normalize_column(id_type, raw, frame, normalization)
        invalid.update(outcome.reasons)
        outcomes[id_type] = outcome.codes
        parts.append(
            pd.DataFrame(
                {
                    "contact_id": contact_ids[outcome.positions],
                    "id_type": id_type,
                    "id_hash": outcome.hashes,
                }
            )
        )

    members = _members_frame(parts)
    return HashResult(members=members, invalid=dict(sorted(invalid.items())), missing=missing, outcomes=outcomes)


def outcome_counts(outcomes: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, int]]:
    """``(invalid, missing)`` counts, as :func:`hash_members` reports them, from outcome codes.

    :param outcomes: id type -> int8 codes (see :attr:`HashResult.outcomes`)
    """
    invalid: Counter[str] = Counter()
    missing: dict[str, int] = {}
    for id_type, codes in outcomes.items():
        counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(OUTCOMES))
        missing[id_type] = int(counts[_OUTCOME_CODE["missing"]])
        for code in range(2, len(OUTCOMES)):
            if counts[code]:
                invalid[OUTCOMES[code]] += int(counts[code])
    return dict(sorted(invalid.items())), missing


def _requested_types(identifiers: Iterable[str]) -> list[str]:
    if isinstance(identifiers, str):  # a lone "email" would otherwise iterate chars
        identifiers = (identifiers,)
    wanted = list(dict.fromkeys(identifiers))
    unknown = [t for t in wanted if t not in ID_TYPES]
    if unknown:
        raise ValueError(f"unknown identifier types {unknown}; expected a subset of {ID_TYPES}")
    return wanted


def _check_columns(frame: pd.DataFrame, wanted: Sequence[str]) -> None:
    needed = ["contact_id", *(INPUT_COLUMN[t] for t in wanted)]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise ValueError(f"hash_members: frame lacks columns {absent}")


def _contact_ids(frame: pd.DataFrame) -> np.ndarray:
    ids = frame["contact_id"]
    if ids.isna().any():
        raise ValueError("hash_members: contact_id must not be NULL")
    return ids.to_numpy(dtype=np.int64)


def _text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """Column as an object Series of str/None with a 0..n-1 index.

    Object dtype on purpose: pandas then applies Python's own ``str`` methods and
    ``re``, so the vectorized path has exactly the semantics of the scalar
    functions (Arrow kernels lowercase and match regexes slightly differently).
    """
    if column not in frame.columns:
        return pd.Series([None] * len(frame), dtype=object)
    col = frame[column].reset_index(drop=True)
    values = col.astype(object).where(col.notna(), None)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = values.map(_coerce_text, na_action="ignore")
    return values


def _coerce_text(value: object) -> str:
    """Turn numbers read from CSVs/DBs into text (6505551234.0 -> "6505551234")."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _normalize_column(
    id_type: str, raw: pd.Series, frame: pd.DataFrame, normalization: Normalization
) -> tuple[_Normalized, int]:
    """Shared pipeline: length guard, blank -> missing, pre-hashed pass-through, normalize."""
    present = raw.notna().to_numpy()
    lengths = raw.str.len().to_numpy(dtype=float, na_value=0.0)
    too_long = present & (lengths > MAX_RAW_LENGTH)
    stripped = raw.str.strip()
    blank = present & ~too_long & (stripped.str.len().to_numpy(dtype=float, na_value=0.0) == 0)
    candidates = present & ~too_long & ~blank
    missing = int((~present).sum() + blank.sum())

    prehashed = candidates & stripped.str.fullmatch(_SHA256_HEX.pattern, na=False).to_numpy(
        dtype=bool
    )
    to_normalize = candidates & ~prehashed

    todo = np.flatnonzero(to_normalize)
    if id_type == "email":
        normalized, reasons = _normalize_emails(stripped.iloc[todo], normalization)
    elif id_type == "maid":
        normalized, reasons = _normalize_maids(stripped.iloc[todo])
    else:
        regions = _text_column(frame, PHONE_REGION_COLUMN).iloc[todo]
        normalized, reasons = _normalize_phones(stripped.iloc[todo], regions)

    ok = reasons == ""
    if id_type == "phone":
        # One hash per form; with "both" a row's position appears twice (digits, then E.164: the
        # stable sort below keeps that order).
        e164 = normalized[ok]
        forms = [np.array([v[1:] for v in e164], dtype=object) if form == "digits" else e164
                 for form in normalization.phone_forms]
        hashed_pos = np.concatenate([todo[ok]] * len(forms))
        hashes = np.concatenate([_sha256_many(values) for values in forms])
    else:
        hashed_pos = todo[ok]
        hashes = _sha256_many(normalized[ok])
    pre_pos = np.flatnonzero(prehashed)
    pre_hashes = stripped.iloc[pre_pos].str.lower().to_numpy(dtype=object)

    positions = np.concatenate([pre_pos, hashed_pos])
    # Keep the input row order so a chunk's output is easy to compare and diff.
    order = np.argsort(positions, kind="stable")
    all_reasons = ["value_too_long"] * int(too_long.sum()) + reasons[~ok].tolist()
    codes = np.full(len(raw), _OUTCOME_CODE["missing"], dtype=np.int8)
    codes[too_long] = _OUTCOME_CODE["value_too_long"]
    codes[positions] = _OUTCOME_CODE["hashed"]
    rejected = todo[~ok]
    if len(rejected):
        codes[rejected] = np.array([_OUTCOME_CODE[r] for r in reasons[~ok].tolist()], dtype=np.int8)
    outcome = _Normalized(
        positions=positions[order],
        hashes=np.concatenate([pre_hashes, hashes])[order],
        reasons=all_reasons,
        codes=codes,
    )
    return outcome, missing


def _normalize_emails(stripped: pd.Series, normalization: Normalization) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized :func:`normalize_email` + :func:`email_match_form` on trimmed, non-blank values.

    Returns (normalized values, reasons) as object arrays; reason "" means valid.
    """
    text = stripped.str.normalize("NFC").str.lower()
    too_long = (text.str.len() > MAX_EMAIL_LENGTH) | (text.str.find("@") > MAX_EMAIL_LOCAL_LENGTH)
    shaped = text.str.fullmatch(_EMAIL.pattern, flags=_EMAIL.flags, na=False)
    reasons = np.where(too_long, "email_too_long", np.where(shaped, "", "email_malformed"))
    if normalization.email_plus_suffix == "remove" or normalization.email_dots != "keep":
        # Only addresses with a "+" or a "." before the "@" can change; the rest keep their text.
        changing = (reasons == "") & text.str.contains(r"[+.][^@]*@", regex=True, na=False).to_numpy(dtype=bool)
        if changing.any():
            values = text.to_numpy(dtype=object).copy()
            values[changing] = [email_match_form(v, normalization) for v in values[changing]]
            return values, reasons.astype(object)
    return text.to_numpy(dtype=object), reasons.astype(object)


def _normalize_maids(stripped: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized :func:`normalize_maid` on trimmed, non-blank values."""
    text = stripped.str.lower()
    shaped = text.str.fullmatch(_MAID.pattern, na=False)
    zeroed = text == _ZERO_MAID
    reasons = np.where(~shaped, "maid_malformed", np.where(zeroed, "maid_zeroed", ""))
    return text.to_numpy(dtype=object), reasons.astype(object)


#: (trimmed raw phone, region) -> (e164, reason), shared by every call in this process.
_PHONE_CACHE: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}
_PHONE_CACHE_LIMIT = 200_000


def _normalize_phones(stripped: pd.Series, regions: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalize_phone` per row with a cache on (raw, region) for this call.

    libphonenumber is pure Python (~20-40 µs per number), so duplicates across
    contacts are parsed once. The cache is shared by the calls of one process (a task hashes
    its contacts in chunks, and a household's phone often sits in two chunks) and bounded to
    :data:`_PHONE_CACHE_LIMIT` entries; :func:`_phone_outcome` is pure, so sharing is safe.
    """
    region_codes = [_normalize_region(r) for r in regions.tolist()]
    cache = _PHONE_CACHE
    if len(cache) > _PHONE_CACHE_LIMIT:
        cache.clear()
    outcomes = []
    for key in zip(stripped.tolist(), region_codes, strict=True):
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = _phone_outcome(*key)
        outcomes.append(hit)
    normalized = np.array([e164 for e164, _ in outcomes], dtype=object)
    reasons = np.array([reason or "" for _, reason in outcomes], dtype=object)
    return normalized, reasons


def _sha256_many(values: np.ndarray) -> np.ndarray:
    """SHA-256 each value, hashing every distinct value once."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    codes, uniques = pd.factorize(values)
    digests = np.array(
        [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in uniques], dtype=object
    )
    return digests[codes]


def _members_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    columns = {"contact_id": "int64", "id_type": "str", "id_hash": "str"}
    if parts:
        members = pd.concat(parts, ignore_index=True)
    else:
        members = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    members = members.astype(columns)
    return members.drop_duplicates(ignore_index=True)
