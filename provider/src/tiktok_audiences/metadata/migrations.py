"""Schema migrations of the metadata database: an append-only list, applied by every task.

A shipped migration never changes: its behaviour is part of every database made since. New tables
and columns get a new entry at the end of :data:`MIGRATIONS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tiktok_audiences.metadata.schema import (
    alerts_sent,
    audience_locks,
    audiences,
    confirmed_members,
    lookalikes,
    oauth_states,
    schema_migrations,
    segment_snapshot_members,
    segment_snapshots,
    sync_runs,
    unconfirmed_members,
    utcnow,
)

log = logging.getLogger(__name__)


def _migration_1(conn: Connection) -> None:
    for table in (
        audiences,
        sync_runs,
        confirmed_members,
        segment_snapshots,
        segment_snapshot_members,
        audience_locks,
    ):
        table.create(conn, checkfirst=True)  # with the table's indexes


def _migration_2(conn: Connection) -> None:
    oauth_states.create(conn, checkfirst=True)


def _migration_3(conn: Connection) -> None:
    # Databases made by migration 1 before the column existed get it here; newer ones already have
    # it (migration 1 creates the table as defined now). Audiences created before were customer files.
    _add_column(conn, audiences.name, "api", "VARCHAR(16)")
    conn.execute(
        audiences.update()
        .where(audiences.c.api.is_(None), audiences.c.tiktok_audience_id.is_not(None))
        .values(api="customer_file")
    )


def _add_column(conn: Connection, table: str, column: str, type_sql: str) -> None:
    """Add a column unless it exists, also when another process adds it at the same moment."""
    if column in {c["name"] for c in sa.inspect(conn).get_columns(table)}:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type_sql}"))
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {type_sql}"))
    except sa.exc.DBAPIError:
        if column not in {c["name"] for c in sa.inspect(conn).get_columns(table)}:
            raise


def _migration_4(conn: Connection) -> None:
    lookalikes.create(conn, checkfirst=True)


def _migration_5(conn: Connection) -> None:
    alerts_sent.create(conn, checkfirst=True)
    # Databases created before this migration lack the column; newer ones got it from migration 1.
    _add_column(conn, sync_runs.name, "error_kind", "VARCHAR(32)")


def _migration_6(conn: Connection) -> None:
    unconfirmed_members.create(conn, checkfirst=True)


#: Ordered schema migrations: (version, description, function). Append, never edit a shipped one.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "audiences, runs, confirmed members, segment snapshots, locks", _migration_1),
    (2, "pending OAuth set-ups of integrations", _migration_2),
    (3, "audiences remember the API they were sent with (customer_file | partner)", _migration_3),
    (4, "lookalike audiences", _migration_4),
    (5, "alerts sent, and the error kind of failed runs", _migration_5),
    (6, "the journal of batches sent to TikTok but not yet confirmed", _migration_6),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(engine: Engine) -> int:
    """Apply pending migrations; returns the schema version. Safe to call from every task."""
    with engine.begin() as conn:
        schema_migrations.create(conn, checkfirst=True)
    with engine.begin() as conn:
        applied = set(conn.execute(sa.select(schema_migrations.c.version)).scalars())
    for version, description, apply in MIGRATIONS:
        if version in applied:
            continue
        try:
            with engine.begin() as conn:
                apply(conn)
                conn.execute(
                    schema_migrations.insert().values(version=version, description=description, applied_at=utcnow())
                )
            log.info("Applied metadata migration %d: %s", version, description)
        except sa.exc.IntegrityError:
            log.info("Metadata migration %d was applied concurrently", version)
    return SCHEMA_VERSION
