"""Identifier types, customer-file parsing and the deterministic "is on TikTok" draw.

Customer files can hold a million lines, so parsing avoids per-line Python work where it can:
whole-text lowercasing, ``str.split`` for single-column files, one ``str.translate`` pass to check
that every character is hex, and plain ``set`` construction. The ``csv`` module is used only when a
file has several columns or quoted cells.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import methodcaller

from tiktok_sandbox.errors import ApiError, Code

#: calculate_type values accepted by /dmp/custom_audience/file/upload/ (enum DmpCalculateType in
#: tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_file_upload.yml). There MAID_SHA256 and
#: MAID_MD5 are aliases of FIRST_SHA256 / FIRST_MD5 (same enum values, 6 and 7).
CALCULATE_TYPES: frozenset[str] = frozenset(
    {
        "EMAIL_SHA256",
        "PHONE_SHA256",
        "IDFA_SHA256",
        "IDFA_MD5",
        "GAID_SHA256",
        "GAID_MD5",
        "MAID_SHA256",
        "MAID_MD5",
        "FIRST_SHA256",
        "FIRST_MD5",
        "MULTIPLE_TYPES",
    }
)
#: calculate_type values accepted by /dmp/custom_audience/create/ (strict enum CalculateType in
#: yml_files/dmp_custom_audience_create.yml): no MAID_* here, mobile ids are FIRST_SHA256 / FIRST_MD5.
CREATE_CALCULATE_TYPES: frozenset[str] = CALCULATE_TYPES - {"MAID_SHA256", "MAID_MD5"}
MULTIPLE_TYPES = "MULTIPLE_TYPES"
_CALCULATE_TYPE_ALIASES = {"MAID_SHA256": "FIRST_SHA256", "MAID_MD5": "FIRST_MD5"}

#: Column types a customer file header may name (matched case-insensitively).
FILE_ID_TYPES: frozenset[str] = frozenset(
    {
        "EMAIL_SHA256",
        "PHONE_SHA256",
        "MAID_SHA256",
        "IDFA_SHA256",
        "GAID_SHA256",
        "IDFA_MD5",
        "GAID_MD5",
        "MAID_MD5",
    }
)

#: id_schema values accepted by /segment/mapping/ (bububa/tiktok-business model/dmp/segment_mapping.go);
#: AAID is Android's GAID.
SEGMENT_ID_TYPES: frozenset[str] = frozenset(
    {"EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256", "IDFA_MD5", "AAID_SHA256", "AAID_MD5"}
)

#: Which file column types a single-type calculate_type accepts.
_COMPATIBLE_COLUMNS: dict[str, frozenset[str]] = {
    "EMAIL_SHA256": frozenset({"EMAIL_SHA256"}),
    "PHONE_SHA256": frozenset({"PHONE_SHA256"}),
    "IDFA_SHA256": frozenset({"IDFA_SHA256"}),
    "GAID_SHA256": frozenset({"GAID_SHA256"}),
    "IDFA_MD5": frozenset({"IDFA_MD5"}),
    "GAID_MD5": frozenset({"GAID_MD5"}),
    # A header-less FIRST_* file's one column has the calculate type itself as its type.
    "FIRST_SHA256": frozenset({"FIRST_SHA256", "MAID_SHA256", "IDFA_SHA256", "GAID_SHA256"}),
    "FIRST_MD5": frozenset({"FIRST_MD5", "MAID_MD5", "IDFA_MD5", "GAID_MD5"}),
}

#: Identifier families: a REMOVE of one member of a family removes the hash from its siblings.
_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"FIRST_SHA256", "MAID_SHA256", "IDFA_SHA256", "GAID_SHA256", "AAID_SHA256"}),
    frozenset({"FIRST_MD5", "MAID_MD5", "IDFA_MD5", "GAID_MD5", "AAID_MD5"}),
)

# str.translate table deleting every lowercase hex digit: what survives is not hex.
_DELETE_HEX = str.maketrans("", "", "0123456789abcdef")
_count_commas = methodcaller("count", ",")

MemberSets = dict[str, set[str]]


def canonical_calculate_type(calculate_type: str) -> str:
    """Map the upload-only MAID_* aliases onto the FIRST_* names create and the audience use."""
    return _CALCULATE_TYPE_ALIASES.get(calculate_type, calculate_type)


def hash_length(id_type: str) -> int:
    """Return the hex length of a hash of ``id_type`` (64 for SHA-256, 32 for MD5)."""
    return 32 if id_type.endswith("_MD5") else 64


def id_family(id_type: str) -> frozenset[str]:
    """Return the id types that denote the same kind of identifier as ``id_type``."""
    for family in _FAMILIES:
        if id_type in family:
            return family
    return frozenset({id_type})


def storage_key(audience_calculate_type: str, column_type: str) -> str:
    """Return the member-set key a file column is stored under.

    A FIRST_* (IDFA-or-GAID) audience files every mobile id under its own calculate type, so an IDFA
    column and a GAID column holding the same hash are one member, not two. Other audiences keep the
    column type.
    """
    if audience_calculate_type in ("FIRST_SHA256", "FIRST_MD5"):
        return audience_calculate_type
    return column_type


def is_hex_hash(value: str, id_type: str) -> bool:
    """Return whether ``value`` is a lowercase hex hash of the right length for ``id_type``."""
    return len(value) == hash_length(id_type) and not value.translate(_DELETE_HEX)


@dataclass(frozen=True)
class ParsedFile:
    """Identifiers read from one customer file, by column type."""

    members: dict[str, frozenset[str]]

    @property
    def record_count(self) -> int:
        """Number of distinct identifiers in the file."""
        return sum(len(values) for values in self.members.values())


def _content_error(detail: str) -> ApiError:
    return ApiError(Code.FILE_CONTENT_INVALID, f"Invalid file content: {detail}")


def _decode(raw: bytes) -> str:
    """Decode the upload as UTF-8 (a BOM is tolerated) and lowercase it in one pass."""
    try:
        return raw.decode("utf-8-sig").lower()
    except UnicodeDecodeError as exc:
        raise _content_error(f"the file is not UTF-8 text (byte {exc.start})") from exc


def _header_types(cells: list[str]) -> list[str] | None:
    """Return the column types if ``cells`` is a header row, else None."""
    names = [cell.strip().upper() for cell in cells]
    known = [name in FILE_ID_TYPES for name in names if name]
    if not any(known):
        return None
    if not all(known):
        bad = next(name for name in names if name and name not in FILE_ID_TYPES)
        raise _content_error(f"unknown column type {bad!r} in the header row")
    if any(not name for name in names):
        raise _content_error("the header row has an empty column name")
    for name in set(names):
        # TikTok's help center allows each header to repeat at most three times.
        if names.count(name) > 3:
            raise _content_error(f"column {name} appears more than 3 times in the header row")
    return names


def _non_blank(cells: Iterable[str]) -> list[str]:
    """Strip every cell and drop the blank ones (C-level ``map``/``filter``, no Python loop)."""
    return list(filter(None, map(str.strip, cells)))


def _all_hashes(values: list[str], id_type: str) -> bool:
    """Whether every value is a hash of ``id_type``: two C-level passes, no per-value regex."""
    return not "".join(values).translate(_DELETE_HEX) and set(map(len, values)) <= {hash_length(id_type)}


def _iter_rows(lines: Iterable[str], quoted: bool) -> Iterator[list[str]]:
    """Split lines into cells; the csv module is only needed when cells are quoted."""
    if quoted:
        return csv.reader(lines)
    return (line.split(",") for line in lines)


def _columns(lines: list[str], width: int, quoted: bool) -> list[list[str]] | None:
    """Transpose the data lines into ``width`` columns; None when a row has extra non-blank cells.

    Rows are never kept: holding a million small lists makes the cyclic garbage collector run
    over and over, which costs more than the parsing itself.
    """
    data = _non_blank(lines)
    if not quoted and set(map(_count_commas, data)) <= {width - 1}:
        # Regular unquoted rows: one split of the whole text, then C-level strided slices.
        cells = ",".join(data).split(",") if data else []
        return [cells[index::width] for index in range(width)]
    columns: list[list[str]] = [[] for _ in range(width)]
    appends = [column.append for column in columns]
    for row in _iter_rows(data, quoted):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            return None
        # Short rows simply contribute nothing to their missing columns.
        for append, cell in zip(appends, row, strict=False):
            append(cell)
    return columns


def _collect(columns: Iterable[Iterable[str]], column_types: list[str]) -> dict[str, frozenset[str]] | None:
    """Group non-blank cells by column type; None as soon as a cell is not a valid hash."""
    grouped: dict[str, list[str]] = {}
    for column_type, cells in zip(column_types, columns, strict=True):
        values = _non_blank(cells)
        if not _all_hashes(values, column_type):
            return None
        grouped.setdefault(column_type, []).extend(values)
    return {name: frozenset(values) for name, values in grouped.items() if values}


def _raise_first_problem(lines: list[str], column_types: list[str], first_line: int, quoted: bool) -> None:
    """Walk the rows to report the first bad cell with its line number (failure path only)."""
    width = len(column_types)
    rows = _iter_rows(lines, quoted) if width > 1 or quoted else ([line] for line in lines)
    for line_number, row in enumerate(rows, start=first_line):
        if any(cell.strip() for cell in row[width:]):
            raise _content_error(f"line {line_number}: more cells than columns")
        for column_type, cell in zip(column_types, row, strict=False):
            value = cell.strip()
            if value and not is_hex_hash(value, column_type):
                raise _content_error(
                    f"line {line_number}: value is not a {hash_length(column_type)}-character hex {column_type} hash"
                )
    raise _content_error("the file could not be read")  # pragma: no cover - _collect found a problem


def _check_compatible(column_types: Iterable[str], calculate_type: str) -> None:
    if calculate_type == MULTIPLE_TYPES:
        return
    allowed = _COMPATIBLE_COLUMNS[calculate_type]
    for column_type in column_types:
        if column_type not in allowed:
            raise _content_error(f"column type {column_type} does not match calculate_type {calculate_type}")


def parse_customer_file(raw: bytes, calculate_type: str) -> ParsedFile:
    """Parse an uploaded customer file.

    A first row made of ID-type names (case-insensitive) is a header naming each column's type;
    otherwise the file has one column whose type is ``calculate_type``. Every non-empty cell is
    one identifier; SHA-256 values must be 64 hex characters and MD5 values 32 (compared
    lowercase).

    Args:
        raw: the exact uploaded bytes (already known to be non-empty).
        calculate_type: the canonical calculate_type declared with the upload.

    Raises:
        ApiError: 40911 when the content is not valid, 40906 when it holds no identifier.
    """
    text = _decode(raw)
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ApiError(Code.FILE_EMPTY, "The file is empty.")
    lines = lines[first:]
    first_line = first + 1  # 1-based line number of lines[0]
    quoted = '"' in text
    multi_column = quoted or "," in text

    header = next(_iter_rows(lines[:1], quoted)) if multi_column else lines[:1]
    column_types = _header_types(header)
    if column_types is not None:
        lines = lines[1:]
        first_line += 1
    elif calculate_type == MULTIPLE_TYPES:
        raise _content_error("a MULTIPLE_TYPES file needs a header row naming each column's ID type")
    else:
        column_types = [calculate_type]
    _check_compatible(column_types, calculate_type)

    if multi_column:
        columns = _columns(lines, len(column_types), quoted)
        members = _collect(columns, column_types) if columns is not None else None
    else:
        # Single column: the lines already are the column, no row splitting needed.
        members = _collect([lines], column_types)
    if members is None:
        _raise_first_problem(lines, column_types, first_line, quoted)
    if not members:
        raise ApiError(Code.FILE_EMPTY, "The file contains no identifiers.")
    return ParsedFile(members=members)


def match_threshold(match_rate: float) -> float:
    """Return the 32-bit threshold below which a hash (or a user's key) counts as on TikTok."""
    # x / 2**32 < rate  <=>  x < rate * 2**32, and scaling by a power of two is exact in floats.
    return match_rate * 2**32


def hash_score(value: str) -> int:
    """The deterministic 32-bit draw behind "is on TikTok": ``int(sha256(value).hexdigest()[:8], 16)``.

    ``int.from_bytes(digest[:4], "big")`` computes it without building the hex string.
    """
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big")


def count_matched(hashes: Iterable[str], match_rate: float) -> int:
    """Count the hashes that are TikTok users when no population is registered.

    Each such hash is its own one-identifier user, on TikTok iff
    ``int(sha256(hash).hexdigest()[:8], 16) / 2**32 < match_rate`` (see :mod:`tiktok_sandbox.population`).
    """
    threshold = match_threshold(match_rate)
    sha256 = hashlib.sha256
    return sum(1 for value in hashes if int.from_bytes(sha256(value.encode()).digest()[:4], "big") < threshold)


def count_matched_sets(members: MemberSets | dict[str, frozenset[str]], match_rate: float) -> int:
    """Count matched hashes over every member set (no population registered)."""
    return sum(count_matched(values, match_rate) for values in members.values())
