"""Read segment members from the contact database with the SQL in ``include/sql/``.

No Airflow here: functions take a SQLAlchemy engine and yield raw contact chunks, which the
caller hashes in memory at once. Every statement runs in a read-only transaction, and segment
criteria (user-written SQL) are checked to be a single boolean expression before they run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
import sqlparse
from sqlalchemy.engine import Connection, Engine
from sqlparse import tokens as T

RAW_COLUMNS = ["contact_id", "email", "phone", "phone_country", "mobile_ad_id"]
SQL_FILES = (
    "segments.sql",
    "segment_contacts.sql",
    "static_segment_filter.sql",
    "static_segment_members.sql",
    "contacts_by_id.sql",
)
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Keywords that have no place in a boolean expression over contacts.
_FORBIDDEN_KEYWORDS = frozenset(
    {
        "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "DROP", "ALTER", "CREATE", "TRUNCATE",
        "GRANT", "REVOKE", "COPY", "ATTACH", "DETACH", "PRAGMA", "VACUUM", "CALL", "EXEC", "EXECUTE",
        "SET", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "INTO", "LOCK", "REINDEX", "DO", "DECLARE",
    }
)


class SegmentError(ValueError):
    """A segment cannot be read: unknown id, or criteria that are not one boolean expression."""


@dataclass(frozen=True)
class SqlTemplates:
    """The statements of ``include/sql/``, loaded once per task.

    :param directory: folder holding the ``.sql`` files
    """

    directory: Path
    statements: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: str | Path) -> SqlTemplates:
        directory = Path(directory)
        statements = {}
        for name in SQL_FILES:
            path = directory / name
            if not path.is_file():
                raise FileNotFoundError(
                    f"SQL file {path} is missing. Restore it from the project template "
                    f"(include/sql/{name}) or set TIKTOK_AUDIENCES_SQL_DIR to the folder that holds it."
                )
            statements[name] = path.read_text(encoding="utf-8")
        return cls(directory, statements)

    def render(self, name: str, **values: str) -> str:
        """The statement with its ``{{ placeholder }}`` parts filled in (comments dropped)."""
        text = sqlparse.format(self.statements[name], strip_comments=True).strip()

        def substitute(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise KeyError(f"{self.directory / name} uses {{{{ {key} }}}}, which is not provided")
            return values[key]

        return _PLACEHOLDER.sub(substitute, text)


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


def validate_criteria(criteria: str, *, segment_id: int, name: str) -> str:
    """Return ``criteria`` if it is a single boolean SQL expression; raise :class:`SegmentError` otherwise."""
    where = f"segment {segment_id} ('{name}')"
    text = criteria.strip()
    if not text:
        raise SegmentError(f"{where} has empty criteria. Fix: set criteria to a boolean expression or NULL for a static segment")
    statements = [s for s in sqlparse.parse(text) if str(s).strip()]
    tokens = [t for s in statements for t in s.flatten()]
    if len(statements) != 1 or any(t.ttype is T.Punctuation and t.value == ";" for t in tokens):
        raise SegmentError(
            f"{where}: criteria must be one boolean expression, not several statements. "
            f"Fix: remove the ';' and anything after it"
        )
    depth = 0
    first_keyword_seen = False
    for token in tokens:
        if token.ttype in T.Comment:
            raise SegmentError(f"{where}: criteria may not contain SQL comments. Fix: remove the comment")
        if token.ttype is T.Punctuation and token.value == "(":
            depth += 1
        elif token.ttype is T.Punctuation and token.value == ")":
            depth -= 1
            if depth < 0:
                raise SegmentError(f"{where}: criteria has an unbalanced ')'. Fix: balance the parentheses")
        if token.is_keyword and token.normalized in _FORBIDDEN_KEYWORDS:
            raise SegmentError(
                f"{where}: criteria may only read contacts; '{token.normalized}' is not allowed. "
                f"Fix: write a boolean expression over the columns of contacts"
            )
        if not first_keyword_seen and not token.is_whitespace:
            first_keyword_seen = True
            if token.ttype in (T.DML, T.DDL, T.Keyword.CTE) or token.normalized in ("SELECT", "WITH", "VALUES"):
                raise SegmentError(
                    f"{where}: criteria is a statement, not a boolean expression. "
                    f"Fix: write only the condition, e.g. subscription_status = 'subscribed'"
                )
    if depth != 0:
        raise SegmentError(f"{where}: criteria has an unbalanced '('. Fix: balance the parentheses")
    return text


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection in a read-only transaction, whatever the database."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            with conn.begin():
                conn.exec_driver_sql("PRAGMA query_only = ON")
                try:
                    yield conn
                finally:
                    conn.exec_driver_sql("PRAGMA query_only = OFF")
        else:
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn


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


def iter_contacts(
    conn: Connection, sql: SqlTemplates, segments: Sequence[Segment], *, chunk_size: int = 100_000
) -> Iterator[pd.DataFrame]:
    """Raw contacts of the given segments, in chunks, each contact once per query."""
    where = segment_filter(sql, segments)
    seen_remembered: set[int] = set()
    if where is not None:
        statement = sa.text(sql.render("segment_contacts.sql", segment_filter=where))
        try:
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(statement)
            for rows in result.partitions(chunk_size):
                yield pd.DataFrame.from_records(rows, columns=RAW_COLUMNS)
        except sa.exc.DBAPIError as err:
            raise SegmentError(_criteria_failure(segments, err)) from None
    for segment in segments:
        if segment.remembered_members is None:
            continue
        ids = [c for c in segment.remembered_members if c not in seen_remembered]
        seen_remembered.update(ids)
        statement = sa.text(sql.render("contacts_by_id.sql")).bindparams(sa.bindparam("contact_ids", expanding=True))
        for start in range(0, len(ids), 10_000):
            rows = conn.execute(statement, {"contact_ids": ids[start : start + 10_000]}).all()
            if rows:
                yield pd.DataFrame.from_records(rows, columns=RAW_COLUMNS)


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


def _criteria_failure(segments: Sequence[Segment], err: sa.exc.DBAPIError) -> str:
    detail = str(getattr(err, "orig", err)).strip().splitlines()[0]
    with_criteria = [f"{s.segment_id} ('{s.name}')" for s in segments if s.criteria is not None]
    where = f"segment criteria of {', '.join(with_criteria)}" if with_criteria else "the segment query"
    return (
        f"the contact database rejected the {where}: {detail}. Fix: correct the criteria so that it is "
        f"a valid boolean expression over the columns of contacts (or fix include/sql/segment_contacts.sql)"
    )
