"""Normalize and hash the identifiers of a chunk of contacts at once (:func:`hash_members`).

The same rules as :mod:`.normalize`, over a pandas chunk of contacts (up to ~100k rows at a time):
vectorized with pandas string methods for emails and MAIDs, a process-wide cache for phones and
one SHA-256 per distinct value. Results equal calling :func:`.normalize.hash_identifiers` per row
(a property test checks it), except that NULL/blank values are counted as missing, not invalid.

Privacy: raw identifier values never appear in exception messages, reasons or counts; invalid
values are only ever reported as ``reason -> count``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tiktok_audiences.members.identifier_types import (
    DEFAULT_NORMALIZATION,
    ID_TYPES,
    INPUT_COLUMN,
    PHONE_REGION_COLUMN,
    Normalization,
)
from tiktok_audiences.members.normalize import (
    EMAIL_SHAPE,
    MAID_SHAPE,
    MAX_EMAIL_LENGTH,
    MAX_EMAIL_LOCAL_LENGTH,
    MAX_RAW_LENGTH,
    REASONS,
    SHA256_HEX,
    ZERO_MAID,
    email_match_form,
    normalize_region,
    phone_outcome,
)

__all__ = ["OUTCOMES", "HashResult", "hash_members", "outcome_counts"]

OUTCOMES: tuple[str, ...] = ("hashed", "missing", *REASONS)
"""Per-contact outcome of one identifier column, as small integer codes (index in this tuple):
hashed, missing (NULL/blank), or the :data:`~.normalize.REASONS` key it was rejected for."""
_OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}


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
            column from :data:`.identifier_types.INPUT_COLUMN` (``email``, ``phone``, ``mobile_ad_id``);
            ``phone_country`` is optional (absent means no region). Values are
            strings or None/NaN; integer-like numbers are read as digit strings.
        identifiers: which of :data:`.identifier_types.ID_TYPES` to produce.
        normalization: the audience's options (phone form(s), email ``+suffix`` and dots).

    Returns:
        A :class:`HashResult`. Results equal calling :func:`.normalize.hash_identifiers` per
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

    prehashed = candidates & stripped.str.fullmatch(SHA256_HEX.pattern, na=False).to_numpy(
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
    """Vectorized :func:`.normalize.normalize_email` + :func:`.normalize.email_match_form` on trimmed, non-blank values.

    Returns (normalized values, reasons) as object arrays; reason "" means valid.
    """
    text = stripped.str.normalize("NFC").str.lower()
    too_long = (text.str.len() > MAX_EMAIL_LENGTH) | (text.str.find("@") > MAX_EMAIL_LOCAL_LENGTH)
    shaped = text.str.fullmatch(EMAIL_SHAPE.pattern, flags=EMAIL_SHAPE.flags, na=False)
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
    """Vectorized :func:`.normalize.normalize_maid` on trimmed, non-blank values."""
    text = stripped.str.lower()
    shaped = text.str.fullmatch(MAID_SHAPE.pattern, na=False)
    zeroed = text == ZERO_MAID
    reasons = np.where(~shaped, "maid_malformed", np.where(zeroed, "maid_zeroed", ""))
    return text.to_numpy(dtype=object), reasons.astype(object)


#: (trimmed raw phone, region) -> (e164, reason), shared by every call in this process.
_PHONE_CACHE: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}
_PHONE_CACHE_LIMIT = 200_000


def _normalize_phones(stripped: pd.Series, regions: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`.normalize.normalize_phone` per row, with a process-wide cache on (raw, region).

    libphonenumber is pure Python (~20-40 µs per number), so duplicates across
    contacts are parsed once. The cache is shared by the calls of one process (a task hashes
    its contacts in chunks, and a household's phone often sits in two chunks) and bounded to
    :data:`_PHONE_CACHE_LIMIT` entries; :func:`.normalize.phone_outcome` is pure, so sharing is safe.
    """
    region_codes = [normalize_region(r) for r in regions.tolist()]
    cache = _PHONE_CACHE
    if len(cache) > _PHONE_CACHE_LIMIT:
        cache.clear()
    outcomes = []
    for key in zip(stripped.tolist(), region_codes, strict=True):
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = phone_outcome(*key)
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
