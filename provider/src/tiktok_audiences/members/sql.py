"""The SQL of ``include/sql/`` and how it runs against the contact database.

The statements are files the user may edit (:class:`SqlTemplates`); every statement runs in a
read-only transaction (:func:`read_only`), and segment criteria (user-written SQL) are checked to be
one boolean expression before they run (:func:`validate_criteria`). No Airflow here: functions take
a SQLAlchemy engine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlparse
from sqlalchemy.engine import Connection, Engine
from sqlparse import tokens as T

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


def validate_criteria(criteria: str, *, segment_id: int, name: str) -> str:
    """Return ``criteria`` if it is a single boolean SQL expression; raise :class:`SegmentError` otherwise."""
    where = f"segment {segment_id} ('{name}')"
    text = criteria.strip()
    if not text:
        raise SegmentError(
            f"{where} has empty criteria. Fix: set criteria to a boolean expression or NULL for a static segment"
        )
    statements = [s for s in sqlparse.parse(text) if str(s).strip()]
    tokens = [t for s in statements for t in s.flatten()]  # type: ignore[no-untyped-call]  # sqlparse: unannotated
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
                if engine.dialect.name == "postgresql":
                    # A static segment in an OR is a hashed subplan only if its members fit in
                    # work_mem (4 MB by default, ~150k contacts); beyond that PostgreSQL scans the
                    # member list once per contact, which never finishes at millions of contacts.
                    conn.exec_driver_sql(f"SET LOCAL work_mem = '{extract_work_mem()}'")
                yield conn


WORK_MEM_ENV = "TIKTOK_AUDIENCES_EXTRACT_WORK_MEM"
_WORK_MEM = re.compile(r"\d{1,7}\s*(kB|MB|GB)")


def extract_work_mem() -> str:
    """PostgreSQL ``work_mem`` of the extraction transaction: ``$TIKTOK_AUDIENCES_EXTRACT_WORK_MEM``, default 256MB."""
    value = os.environ.get(WORK_MEM_ENV, "256MB").strip()
    if not _WORK_MEM.fullmatch(value):
        raise ValueError(f"{WORK_MEM_ENV}={value!r} is not a PostgreSQL memory size. Fix: use e.g. 256MB or 1GB")
    return value
