"""What every repository of the metadata tables shares: the engine, and the row-writing helpers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: Rows per multi-row INSERT (the portable path; PostgreSQL loads large sets with COPY instead).
INSERT_CHUNK = 50_000


class Repository:
    """Reads and writes one group of the metadata tables.

    :param engine: engine of the metadata database
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _row(self, table: sa.Table, key: str) -> dict[str, Any] | None:
        """The row of a table keyed by audience (``audience_key``), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.audience_key == key)).mappings().first()
        return dict(row) if row else None

    def _rows(self, table: sa.Table, *order_by: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(*order_by)).mappings().all()
        return [dict(r) for r in rows]


def insert_unless_present(conn: Connection, table: sa.Table, **values: Any) -> None:
    """Insert a row, unless another run inserted its key first (then the row is theirs)."""
    try:
        with conn.begin_nested():
            conn.execute(table.insert().values(**values))
    except sa.exc.IntegrityError:
        pass


def chunks(frame: pd.DataFrame, size: int) -> Iterable[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]
