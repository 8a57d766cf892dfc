"""The identifiers on TikTok: the confirmed set, and the journal of batches sent but not confirmed.

The confirmed set only ever grows after TikTok accepted a batch, inside one transaction per batch,
so it never claims more than TikTok holds. Each batch is journaled in the unconfirmed set *before*
it is sent (a REMOVE's identifiers leave the confirmed set at that moment) and leaves the journal in
the transaction that confirms it. A run that dies part-way, or whose answer was lost, therefore
leaves TikTok holding all of the confirmed set and possibly some of the unconfirmed one: the next run
sends again what is desired and removes what is not (TikTok's APPEND and REMOVE are idempotent).

On PostgreSQL the sets are written and read with COPY (:mod:`tiktok_audiences.db.pgcopy`).
"""

from __future__ import annotations

import io
import uuid

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tiktok_audiences.db import pgcopy
from tiktok_audiences.members.membership import Identifiers, identifier_keys
from tiktok_audiences.metadata.repository import INSERT_CHUNK, Repository, chunks
from tiktok_audiences.metadata.schema import confirmed_members, unconfirmed_members

_ANALYZE_AFTER_ROWS = 100_000
_MEMBER_TYPES = {"id_type": pa.string(), "id_hash": pa.string()}


class MembersRepository(Repository):
    def load_confirmed(self, key: str) -> pd.DataFrame:
        """The ``(id_type, id_hash)`` pairs last confirmed on TikTok for this audience."""
        query = sa.select(confirmed_members.c.id_type, confirmed_members.c.id_hash).where(
            confirmed_members.c.audience_key == key
        )
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # COPY streams the rows in PostgreSQL's text format, parsed by Arrow: ~10x faster
                # than fetching millions of rows as Python tuples.
                return _copy_out_members(conn, query)
            frame = pd.read_sql(query, conn)
        return frame.astype({"id_type": "str", "id_hash": "str"})

    def load_confirmed_identifiers(self, key: str) -> Identifiers:
        """The confirmed set as :class:`~tiktok_audiences.members.membership.Identifiers` (33-byte keys).

        On PostgreSQL, COPY is parsed block by block, so the hex strings of the whole set never sit
        in memory at once; elsewhere the rows are read in chunks.
        """
        return self._load_identifiers(confirmed_members, key)

    def load_unconfirmed_identifiers(self, key: str) -> Identifiers:
        """Identifiers of batches sent without a recorded acceptance (TikTok may hold them or not)."""
        unconfirmed = self._load_identifiers(unconfirmed_members, key)
        return unconfirmed if unconfirmed.empty else Identifiers.distinct(unconfirmed)

    def _load_identifiers(self, table: sa.Table, key: str) -> Identifiers:
        query = sa.select(table.c.id_type, table.c.id_hash).where(table.c.audience_key == key)
        parts = []
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                sink = _KeyBlocks()
                pgcopy.copy_out_query(conn, query, sink)
                sink.close()
                parts = sink.parts
            else:
                for frame in pd.read_sql(query, conn, chunksize=INSERT_CHUNK * 4):
                    parts.append(Identifiers.from_frame(frame).keys)
        if not parts:
            return Identifiers.none()
        return Identifiers(pa.concat_arrays(parts) if len(parts) > 1 else parts[0])

    def begin_batch(self, key: str, *, adding: pd.DataFrame | None = None,
                    removing: pd.DataFrame | None = None) -> str:
        """Journal a batch before it is sent; returns its id for the ``confirm_*`` call after it.

        :param adding: identifiers the batch may add that are not confirmed yet
        :param removing: confirmed identifiers the batch may remove: they leave the confirmed set now
            (TikTok may no longer hold them once the request is sent)
        """
        batch_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            for frame in (adding, removing):
                if frame is not None and not frame.empty:
                    _insert_members(conn, unconfirmed_members, key, frame, batch_id=batch_id)
            if removing is not None and not removing.empty:
                _delete_members(conn, confirmed_members, key, removing)
        return batch_id

    def confirm_added(self, key: str, identifiers: pd.DataFrame, batch_id: str | None = None) -> None:
        """Record identifiers TikTok accepted (APPEND, or a mapping add) and close their batch."""
        with self.engine.begin() as conn:
            _insert_members(conn, confirmed_members, key, identifiers)
            if batch_id:
                _close_batch(conn, key, batch_id)

    def confirm_removed(self, key: str, identifiers: pd.DataFrame, batch_id: str | None = None) -> None:
        """Forget identifiers TikTok removed (REMOVE, or a mapping delete) and close their batch.

        A batch journaled with :meth:`begin_batch` already took them out of the confirmed set.
        """
        with self.engine.begin() as conn:
            if batch_id:
                _close_batch(conn, key, batch_id)
            else:
                _delete_members(conn, confirmed_members, key, identifiers)

    def confirm_replaced(self, key: str, identifiers: pd.DataFrame) -> None:
        """The whole set after a REPLACE or a fresh create: one transaction swaps it.

        TikTok then holds exactly these identifiers, so the journal of the audience is cleared too.
        """
        with self.engine.begin() as conn:
            conn.execute(confirmed_members.delete().where(confirmed_members.c.audience_key == key))
            conn.execute(unconfirmed_members.delete().where(unconfirmed_members.c.audience_key == key))
            _insert_members(conn, confirmed_members, key, identifiers)

    def settle_unconfirmed(self, key: str) -> None:
        """A run sent its whole plan and TikTok accepted every batch: TikTok holds exactly the desired
        set, so nothing the journal still names (from earlier runs) is in doubt any more."""
        with self.engine.begin() as conn:
            conn.execute(unconfirmed_members.delete().where(unconfirmed_members.c.audience_key == key))

    def forget_confirmed(self, key: str, *, unconfirmed: bool = True) -> None:
        """Forget what TikTok holds of this audience (a new TikTok audience is made).

        :param unconfirmed: also forget the journal (False when adopting the audience an interrupted
            create made: it may hold what that create sent, which only the journal remembers)
        """
        with self.engine.begin() as conn:
            conn.execute(confirmed_members.delete().where(confirmed_members.c.audience_key == key))
            if unconfirmed:
                conn.execute(unconfirmed_members.delete().where(unconfirmed_members.c.audience_key == key))


def _insert_members(conn: Connection, table: sa.Table, key: str, identifiers: pd.DataFrame,
                    batch_id: str | None = None) -> None:
    extra = {} if batch_id is None else {"batch_id": batch_id}
    if conn.dialect.name == "postgresql" and _copy_in_members(conn, table, key, identifiers, batch_id):
        return
    for chunk in chunks(identifiers, INSERT_CHUNK):
        rows = [
            {"audience_key": key, **extra, "id_type": t, "id_hash": h}
            for t, h in zip(chunk["id_type"].tolist(), chunk["id_hash"].tolist(), strict=True)
        ]
        if rows:
            conn.execute(table.insert(), rows)


def _copy_in_members(conn: Connection, table: sa.Table, key: str, identifiers: pd.DataFrame,
                     batch_id: str | None = None) -> bool:
    """Member rows with COPY FROM STDIN; False (nothing done) when the driver cannot COPY or a
    value would need escaping (hashes are hex: never produced by this package)."""
    if identifiers.empty:
        return True
    if pgcopy.driver(conn) is None:
        return False
    type_column = identifiers["id_type"].astype("str")
    hash_column = identifiers["id_hash"].astype("str")
    if not (pgcopy.is_plain(pd.Series(type_column.unique())) and pgcopy.is_plain(hash_column)):
        return False
    fixed = [key] if batch_id is None else [key, batch_id]
    columns = ["audience_key", *([] if batch_id is None else ["batch_id"]), "id_type", "id_hash"]
    pgcopy.copy_in(conn, table.name, columns, fixed=fixed, values=[type_column, hash_column],
                   analyze_after=_ANALYZE_AFTER_ROWS)
    return True


def _delete_members(conn: Connection, table: sa.Table, key: str, identifiers: pd.DataFrame) -> None:
    for chunk in chunks(identifiers, 500):
        for id_type, group in chunk.groupby("id_type"):
            conn.execute(
                table.delete().where(
                    table.c.audience_key == key,
                    table.c.id_type == id_type,
                    table.c.id_hash.in_(group["id_hash"].tolist()),
                )
            )


def _close_batch(conn: Connection, key: str, batch_id: str) -> None:
    conn.execute(unconfirmed_members.delete().where(unconfirmed_members.c.audience_key == key,
                                                    unconfirmed_members.c.batch_id == batch_id))


class _KeyBlocks(pgcopy.LineBlockSink):
    """A COPY sink for (id_type, id_hash) rows, turned into identifier keys every ~16 MB."""

    _BLOCK = 16 << 20

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[pa.Array] = []

    def parse_block(self, block: bytes) -> None:
        table = pgcopy.parse_text(block, _MEMBER_TYPES)
        self.parts.append(identifier_keys(table.column("id_type"), table.column("id_hash")))


def _copy_out_members(conn: Connection, query: sa.Select) -> pd.DataFrame:
    """``query``'s (id_type, id_hash) rows through COPY TO STDOUT, parsed by Arrow."""
    buffer = io.BytesIO()
    pgcopy.copy_out_query(conn, query, buffer)
    data = buffer.getvalue()
    del buffer
    if not data:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in _MEMBER_TYPES})
    return pgcopy.parse_text(data, _MEMBER_TYPES).to_pandas().astype({"id_type": "str", "id_hash": "str"})
