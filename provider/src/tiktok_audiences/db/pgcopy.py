"""PostgreSQL ``COPY``: rows in (``FROM STDIN``) and out (``TO STDOUT``), and the text format both use.

The one place of this package that speaks COPY; the metadata repositories (confirmed members, the
journal, segment snapshots) and the contact-data reader use it. No Airflow import here.

psycopg 3 hands COPY data over one row at a time through Python generators (~2.7 s per million
rows here), psycopg2's ``copy_expert`` in large buffers (~0.7 s). The Airflow postgres provider
requires both drivers, and its engines may use either; for a psycopg 3 engine the bulk read goes
through a short-lived psycopg2 connection to the same URL (same host, database, user and options),
falling back to psycopg 3 when that connection cannot be made.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

log = logging.getLogger(__name__)

#: Rows formatted as one Python string per COPY write (bounded memory: a whole 10M-contact audience
#: as str objects is ~1.5 GB).
COPY_IN_ROWS = 200_000


# -- the text format ------------------------------------------------------------------------------


def copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def is_plain(values: pd.Series) -> bool:
    """True when no value (str) needs escaping in the COPY text format, so it can be written as is."""
    return not values.str.contains(r"[\t\n\r\\]", regex=True).any()


def parse_text(data: bytes, column_types: dict[str, pa.DataType]) -> pa.Table:
    """COPY text-format rows (no escapes in them, no NULLs) as an Arrow table of ``column_types``."""
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=list(column_types), block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=False,
                                             quoted_strings_can_be_null=False),
    )


class LineBlockSink:
    """A COPY sink that hands whole lines on in blocks of about ``_BLOCK`` bytes (bounded memory).

    Subclasses implement :meth:`parse_block`; a block boundary never splits a row.
    """

    _BLOCK = 8 << 20

    def __init__(self) -> None:
        self._pending = bytearray()

    def write(self, data: bytes | str) -> int:
        if isinstance(data, str):
            data = data.encode("ascii")
        self._pending += data
        if len(self._pending) >= self._BLOCK:
            cut = self._pending.rfind(b"\n") + 1
            self._flush(bytes(self._pending[:cut]))
            del self._pending[:cut]
        return len(data)

    def close(self) -> None:
        if self._pending:
            self._flush(bytes(self._pending))
            self._pending.clear()

    def _flush(self, block: bytes) -> None:
        if block:
            self.parse_block(block)

    def parse_block(self, block: bytes) -> None:
        raise NotImplementedError


def driver(conn: Connection) -> str | None:
    """``psycopg2``, ``psycopg`` (3) or None for a connection that cannot COPY."""
    module = type(conn.connection.driver_connection).__module__
    if module.startswith("psycopg2"):
        return "psycopg2"
    if module.startswith("psycopg"):
        return "psycopg"
    return None


# -- COPY FROM STDIN ------------------------------------------------------------------------------


def copy_in(conn: Connection, table: str, columns: Sequence[str], *, fixed: Sequence[Any] = (),
            values: Sequence[Any], analyze_after: int | None = None) -> None:
    """Insert rows with ``COPY table (columns) FROM STDIN``, in ``conn``'s transaction.

    Each row is the ``fixed`` values (escaped here) followed by one item of each ``values`` column
    (lists or pandas Series of equal length; str, or int for a single column), written as is: the
    caller checks they need no escaping (:func:`is_plain`). Same rows and the same constraint
    checks as INSERTs.

    :param conn: a PostgreSQL connection whose driver is psycopg2 or psycopg 3 (:func:`driver`)
    :param analyze_after: ``ANALYZE`` the table after loading at least this many rows
    """
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    raw: Any = conn.connection.driver_connection  # the DBAPI connection: psycopg2's or psycopg 3's
    psycopg2 = driver(conn) == "psycopg2"
    prefix = "".join(copy_text(str(v)) + "\t" for v in fixed)
    count = len(values[0]) if values else 0
    for start in range(0, count, COPY_IN_ROWS):
        data = _lines(prefix, [_part(column, start, start + COPY_IN_ROWS) for column in values])
        if psycopg2:
            with raw.cursor() as cursor:
                cursor.copy_expert(statement, io.StringIO(data))
        else:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(data)
        del data
    if analyze_after is not None and count >= analyze_after:
        # After a bulk load the planner's statistics still describe the table as it was; without
        # fresh ones it plans the next run's deletes (id_hash IN (...)) as a scan of every row of
        # the audience instead of index look-ups. A sampled ANALYZE takes well under a second.
        with raw.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


def _part(column: Any, start: int, stop: int) -> list[Any]:
    part = column.iloc[start:stop] if isinstance(column, pd.Series) else column[start:stop]
    return part.tolist() if isinstance(part, pd.Series) else list(part)


def _lines(prefix: str, columns: list[list[Any]]) -> str:
    if len(columns) == 1:
        return "".join(f"{prefix}{v}\n" for v in columns[0])
    return "".join(prefix + "\t".join(row) + "\n" for row in zip(*columns, strict=True))


# -- COPY TO STDOUT -------------------------------------------------------------------------------


def copy_out_query(conn: Connection, query: Select[Any], sink: Any) -> None:
    """Stream a SQLAlchemy ``query``'s rows through ``COPY (…) TO STDOUT`` into ``sink.write``."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    copy_out(conn, f"COPY ({sql}) TO STDOUT", sink)


def copy_out(conn: Connection, statement: str, sink: Any, *, read_only: bool = False,
             settings: dict[str, str] | None = None) -> None:
    """Run ``statement`` (a ``COPY … TO STDOUT``) and feed its output to ``sink.write``.

    :param conn: a PostgreSQL connection whose driver is psycopg2 or psycopg 3
    :param read_only: run a separate connection's COPY in a read-only transaction (for contact data)
    :param settings: ``SET LOCAL`` parameters a separate connection needs (``conn``'s own
        transaction already has them)
    """
    raw: Any = conn.connection.driver_connection  # the DBAPI connection: psycopg2's or psycopg 3's
    if driver(conn) == "psycopg2":
        with raw.cursor() as cursor:
            cursor.copy_expert(statement, sink)
        return
    fast = _psycopg2_twin(conn)
    if fast is not None:
        try:
            with fast.cursor() as cursor:
                if read_only:
                    cursor.execute("SET TRANSACTION READ ONLY")
                for name, value in (settings or {}).items():
                    cursor.execute("SELECT set_config(%s, %s, true)", (name, value))
                cursor.copy_expert(statement, sink)
            fast.rollback()
        finally:
            fast.close()
        return
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            sink.write(block)


def _psycopg2_twin(conn: Connection) -> Any:
    """A psycopg2 connection to the same database, or None."""
    try:
        import psycopg2  # type: ignore[import-untyped]  # no stubs installed (types-psycopg2)
    except ImportError:
        return None
    url = conn.engine.url
    params: dict[str, Any] = {k: v for k, v in url.query.items() if isinstance(v, str)}
    params.update(host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database)
    params = {k: v for k, v in params.items() if v is not None}
    try:
        return psycopg2.connect(**params)
    except psycopg2.Error as err:
        log.info("Bulk read falls back to psycopg 3 (%s)", type(err).__name__)
        return None
