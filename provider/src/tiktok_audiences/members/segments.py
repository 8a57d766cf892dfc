"""Segments and their contacts, read from the contact database with the SQL of ``include/sql/``.

No Airflow here: functions take a SQLAlchemy connection (opened with :func:`.sql.read_only`) and
yield raw contact chunks, which the caller hashes in memory at once (:mod:`.reading`). A contact's
*digest* (of its raw identifier columns) lets the identifier cache tell which contacts changed
without reading their values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tiktok_audiences.db import pgcopy
from tiktok_audiences.members.sql import SegmentError, SqlTemplates, extract_work_mem, validate_criteria

RAW_COLUMNS = ["contact_id", "email", "phone", "phone_country", "mobile_ad_id"]


@dataclass(frozen=True)
class Segment:
    """A segment as the run will use it.

    :param segment_id: the segment's id
    :param name: its name (from the contact database, or remembered)
    :param criteria: SQL boolean expression, or None for a static segment
    :param deleted: the segment was deleted in the contact database
    :param remembered_members: for a deleted static segment whose members are gone, the members
        remembered from the last good run
    """

    segment_id: int
    name: str
    criteria: str | None
    deleted: bool = False
    remembered_members: tuple[int, ...] | None = None

    @property
    def is_static(self) -> bool:
        return self.criteria is None


def resolve_segments(
    conn: Connection,
    sql: SqlTemplates,
    segment_ids: Sequence[int],
    snapshot: Mapping[int, Mapping[str, Any]],
    remembered_members: Mapping[int, Sequence[int]],
) -> dict[int, Segment]:
    """Look up the audience's segments, falling back to what was remembered for deleted ones.

    :param snapshot: segment definitions remembered from the last good run (by segment id)
    :param remembered_members: static-segment members remembered from the last good run
    """
    statement = sa.text(sql.render("segments.sql")).bindparams(sa.bindparam("segment_ids", expanding=True))
    rows = {int(r.segment_id): r for r in conn.execute(statement, {"segment_ids": list(segment_ids)})}
    segments: dict[int, Segment] = {}
    for segment_id in segment_ids:
        row = rows.get(segment_id)
        if row is not None:
            deleted = row.deleted_at is not None
            criteria = row.criteria if row.criteria is not None and str(row.criteria).strip() != "" else None
            segments[segment_id] = Segment(segment_id, str(row.name), criteria, deleted=deleted)
        elif segment_id in snapshot:
            remembered = snapshot[segment_id]
            segments[segment_id] = Segment(
                segment_id, str(remembered.get("name") or segment_id), remembered.get("criteria"), deleted=True
            )
        else:
            raise SegmentError(
                f"segment {segment_id} does not exist in the contact database (table segments) and was "
                f"never seen by an earlier run. Fix: correct the segment id in the audience file"
            )
        segment = segments[segment_id]
        if segment.criteria is not None:
            validate_criteria(segment.criteria, segment_id=segment_id, name=segment.name)
        elif segment.deleted:
            # A deleted static segment: its rows in segment_members may be gone; fall back to the
            # members remembered from the last good run.
            has_rows = conn.execute(
                sa.text(
                    "SELECT 1 FROM ("
                    + sql.render("static_segment_members.sql")
                    + ") AS m LIMIT 1"
                ).bindparams(sa.bindparam("segment_ids", expanding=True)),
                {"segment_ids": [segment_id]},
            ).first()
            if has_rows is None and segment_id in remembered_members:
                segments[segment_id] = Segment(
                    segment_id,
                    segment.name,
                    None,
                    deleted=True,
                    remembered_members=tuple(remembered_members[segment_id]),
                )
    return segments


def segment_filter(sql: SqlTemplates, segments: Sequence[Segment]) -> str | None:
    """The OR of the segments' filters (None if every segment is a remembered member list)."""
    parts = []
    for segment in segments:
        if segment.remembered_members is not None:
            continue
        if segment.criteria is not None:
            parts.append(f"({segment.criteria})")
        else:
            parts.append("(" + sql.render("static_segment_filter.sql", segment_id=str(int(segment.segment_id))) + ")")
    return " OR ".join(parts) if parts else None


#: The digest of a contact's raw identifier columns, computed by PostgreSQL so raw values never have
#: to leave the database to find out whether they changed: PostgreSQL's 64-bit string hash
#: (``hashtextextended``, the one hash partitioning relies on being stable) over the columns, each
#: written as ``<length>:<value>`` (a NULL adds nothing, '' adds "0:"), which no two different rows
#: share. Half the database time of ``md5(ROW(...)::text)`` (4.9 s vs 9.9 s for 5.5M contacts).
PG_DIGEST = (
    "hashtextextended(concat(length(c.email), ':', c.email, length(c.phone), ':', c.phone, "
    "length(c.phone_country), ':', c.phone_country, length(c.mobile_ad_id), ':', c.mobile_ad_id), 0)"
)
DIGEST_COLUMN = "digest"


def digest_kind(conn: Connection) -> str:
    """How this database's contact digests are computed (a cache only compares digests of one kind)."""
    return "postgresql-hashtextextended-lp" if conn.dialect.name == "postgresql" else "python-md5-json"


def python_digests(frame: pd.DataFrame) -> np.ndarray:
    """The digest of each row's raw identifier columns, computed here (databases without :data:`PG_DIGEST`)."""
    columns = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in RAW_COLUMNS[1:]]
    out = np.empty(len(frame), dtype=np.int64)
    for i, values in enumerate(zip(*columns, strict=True)):
        digest = hashlib.md5(json.dumps(values, default=str).encode("utf-8"), usedforsecurity=False).digest()
        out[i] = int.from_bytes(digest[:8], "big", signed=True)
    return out


def iter_contacts(
    conn: Connection,
    sql: SqlTemplates,
    segments: Sequence[Segment],
    *,
    chunk_size: int = 100_000,
    with_digest: bool = False,
) -> Iterator[pd.DataFrame]:
    """Raw contacts of the given segments, in chunks, each contact once per query.

    :param with_digest: add a ``digest`` column (int64) over the raw identifier columns
    """
    where = segment_filter(sql, segments)
    seen_remembered: set[int] = set()
    if where is not None:
        inner = sql.render("segment_contacts.sql", segment_filter=where)
        in_database = with_digest and conn.dialect.name == "postgresql"
        statement = sa.text(_with_pg_digest(inner) if in_database else inner)
        columns = RAW_COLUMNS + [DIGEST_COLUMN] if in_database else RAW_COLUMNS
        try:
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(statement)
            for rows in result.partitions(chunk_size):
                frame = pd.DataFrame.from_records(rows, columns=columns)
                if with_digest and not in_database:
                    frame[DIGEST_COLUMN] = python_digests(frame)
                yield frame
        except sa.exc.DBAPIError as err:
            raise SegmentError(_criteria_failure(segments, err)) from None
    for segment in segments:
        if segment.remembered_members is None:
            continue
        ids = [c for c in segment.remembered_members if c not in seen_remembered]
        seen_remembered.update(ids)
        yield from contacts_by_ids(conn, sql, ids, with_digest=with_digest)


def contacts_by_ids(
    conn: Connection, sql: SqlTemplates, ids: Sequence[int], *, with_digest: bool = False, batch: int = 10_000
) -> Iterator[pd.DataFrame]:
    """Raw identifiers of the given contacts (``contacts_by_id.sql``), in batches."""
    inner = sql.render("contacts_by_id.sql")
    in_database = with_digest and conn.dialect.name == "postgresql"
    statement = sa.text(_with_pg_digest(inner) if in_database else inner).bindparams(
        sa.bindparam("contact_ids", expanding=True)
    )
    columns = RAW_COLUMNS + [DIGEST_COLUMN] if in_database else RAW_COLUMNS
    ids = [int(c) for c in ids]
    for start in range(0, len(ids), batch):
        rows = conn.execute(statement, {"contact_ids": ids[start : start + batch]}).all()
        if rows:
            frame = pd.DataFrame.from_records(rows, columns=columns)
            if with_digest and not in_database:
                frame[DIGEST_COLUMN] = python_digests(frame)
            yield frame


def segment_contacts_by_ids(
    conn: Connection, sql: SqlTemplates, segments: Sequence[Segment], ids: Sequence[int], *,
    chunk_size: int = 100_000, batch: int = 10_000,
) -> Iterator[pd.DataFrame]:
    """Raw identifiers and digests of those of ``ids`` that are in the segments (the segment query
    restricted to these contacts, so values are read exactly as a full read reads them)."""
    where = segment_filter(sql, segments)
    if where is None or len(ids) == 0:
        return
    inner = sql.render("segment_contacts.sql", segment_filter=where)
    ids = [int(c) for c in ids]
    try:
        if conn.dialect.name == "postgresql":
            # One statement with an array parameter: PostgreSQL turns it into index look-ups.
            statement = sa.text(_with_pg_digest(inner) + " WHERE c.contact_id = ANY(CAST(:ids AS bigint[]))")
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(statement, {"ids": ids})
            for rows in result.partitions(chunk_size):
                yield pd.DataFrame.from_records(rows, columns=RAW_COLUMNS + [DIGEST_COLUMN])
            return
        columns = ", ".join(f"c.{c}" for c in RAW_COLUMNS)
        statement = sa.text(f"SELECT {columns} FROM ({inner}) AS c WHERE c.contact_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)
        )
        for start in range(0, len(ids), batch):
            rows = conn.execute(statement, {"ids": ids[start : start + batch]}).all()
            if rows:
                frame = pd.DataFrame.from_records(rows, columns=RAW_COLUMNS)
                frame[DIGEST_COLUMN] = python_digests(frame)
                yield frame
    except sa.exc.DBAPIError as err:
        raise SegmentError(_criteria_failure(segments, err)) from None


def contact_digests(conn: Connection, sql: SqlTemplates, segments: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray]:
    """``(contact_ids, digests)`` of the segments' contacts (int64 arrays, in the query's order).

    On PostgreSQL only ids and digests leave the database (``COPY … TO STDOUT`` parsed by Arrow);
    elsewhere the raw rows are read and digested here. Segments with remembered members are not
    supported (the caller reads those in full).
    """
    where = segment_filter(sql, segments)
    if where is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    inner = sql.render("segment_contacts.sql", segment_filter=where)
    if conn.dialect.name == "postgresql" and pgcopy.driver(conn) is not None:
        statement = f"COPY (SELECT c.contact_id, {PG_DIGEST} FROM ({inner}) AS c) TO STDOUT"
        parser = _IntPairs()
        try:
            pgcopy.copy_out(conn, statement, parser, read_only=True, settings={"work_mem": extract_work_mem()})
            parser.close()
        except Exception as err:
            if not type(err).__module__.startswith("psycopg"):
                raise
            raise SegmentError(_criteria_failure(segments, err)) from None
        return parser.arrays()
    ids, digests = [], []
    for frame in iter_contacts(conn, sql, segments, with_digest=True):
        ids.append(frame["contact_id"].to_numpy(dtype=np.int64))
        digests.append(frame[DIGEST_COLUMN].to_numpy(dtype=np.int64))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(ids), np.concatenate(digests)


def _with_pg_digest(inner: str) -> str:
    columns = ", ".join(f"c.{c}" for c in RAW_COLUMNS)
    return f"SELECT {columns}, {PG_DIGEST} AS {DIGEST_COLUMN} FROM ({inner}) AS c"


class _IntPairs(pgcopy.LineBlockSink):
    """A COPY sink for rows of two integers, parsed by Arrow in blocks of ~8 MB (bounded memory)."""

    def __init__(self) -> None:
        super().__init__()
        self._first: list[np.ndarray] = []
        self._second: list[np.ndarray] = []

    def parse_block(self, block: bytes) -> None:
        table = pgcopy.parse_text(block, {"a": pa.int64(), "b": pa.int64()})
        self._first.append(table.column("a").to_numpy())
        self._second.append(table.column("b").to_numpy())

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._first:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(self._first), np.concatenate(self._second)


def static_members(conn: Connection, sql: SqlTemplates, segments: Sequence[Segment]) -> pd.DataFrame:
    """Current members of the static segments (to remember them for a later deletion)."""
    live_static = [s.segment_id for s in segments if s.is_static and s.remembered_members is None]
    frames = []
    if live_static:
        statement = sa.text(sql.render("static_segment_members.sql")).bindparams(
            sa.bindparam("segment_ids", expanding=True)
        )
        rows = conn.execute(statement, {"segment_ids": live_static}).all()
        frames.append(pd.DataFrame.from_records(rows, columns=["segment_id", "contact_id"]))
    for segment in segments:
        if segment.remembered_members is not None:
            frames.append(
                pd.DataFrame({"segment_id": segment.segment_id, "contact_id": list(segment.remembered_members)})
            )
    if not frames:
        return pd.DataFrame({"segment_id": pd.Series(dtype="int64"), "contact_id": pd.Series(dtype="int64")})
    return pd.concat(frames, ignore_index=True).astype("int64")


def _criteria_failure(segments: Sequence[Segment], err: Exception) -> str:
    detail = str(getattr(err, "orig", err)).strip().splitlines()[0]
    with_criteria = [f"{s.segment_id} ('{s.name}')" for s in segments if s.criteria is not None]
    where = f"segment criteria of {', '.join(with_criteria)}" if with_criteria else "the segment query"
    return (
        f"the contact database rejected the {where}: {detail}. Fix: correct the criteria so that it is "
        f"a valid boolean expression over the columns of contacts (or fix include/sql/segment_contacts.sql)"
    )
