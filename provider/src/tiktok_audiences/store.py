"""The metadata tables: audiences, their run history, and the identifiers confirmed on TikTok.

They live in their own database behind the ``tiktok_audiences_meta`` connection (default: a SQLite
file under ``AIRFLOW_HOME``), never in Airflow's metadata database, which tasks may not touch in
Airflow 3. Everything here is SQLAlchemy Core, so any database with a SQLAlchemy dialect works.

The confirmed set only ever grows after TikTok accepted a batch, inside one transaction per batch,
so it never claims more than TikTok holds. Each batch is journaled in the unconfirmed set *before*
it is sent (a REMOVE's identifiers leave the confirmed set at that moment) and leaves the journal in
the transaction that confirms it. A run that dies part-way, or whose answer was lost, therefore
leaves TikTok holding all of the confirmed set and possibly some of the unconfirmed one: the next run
sends again what is desired and removes what is not (TikTok's APPEND and REMOVE are idempotent).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tiktok_audiences.pgcopy import LineBlockSink

log = logging.getLogger(__name__)

META_CONN_ID = "tiktok_audiences_meta"
_INSERT_CHUNK = 50_000

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "tiktok_schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

audiences = sa.Table(
    "tiktok_audiences",
    metadata,
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("integration", sa.String(250), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # JSON of the audience file
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("advertiser_id", sa.String(64)),
    sa.Column("tiktok_audience_id", sa.String(64)),
    sa.Column("calculate_type", sa.String(32)),
    # customer_file | partner: how tiktok_audience_id was created (migration 3; NULL = customer_file)
    sa.Column("api", sa.String(16)),
    sa.Column("create_started_at", sa.DateTime),  # set just before a create, cleared once its id is stored
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_message", sa.Text),
    sa.Column("size", sa.BigInteger),
    sa.Column("cover_num", sa.BigInteger),
    sa.Column("match_rate", sa.Float),
    sa.Column("is_valid", sa.Boolean),
    sa.Column("deleted_segments", sa.Text),  # JSON list of segment ids
    sa.Column("last_sync_at", sa.DateTime),  # last time changes were confirmed by TikTok
    sa.Column("last_run_at", sa.DateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

sync_runs = sa.Table(
    "tiktok_sync_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("audience_key", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("outcome", sa.String(32), nullable=False),  # running | success | partial | too_small | dry_run | failed
    sa.Column("extracted", sa.BigInteger),
    sa.Column("invalid", sa.Text),  # JSON {reason: count}
    sa.Column("excluded", sa.BigInteger),
    sa.Column("size", sa.BigInteger),
    sa.Column("added", sa.BigInteger),
    sa.Column("removed", sa.BigInteger),
    sa.Column("cover_num", sa.BigInteger),
    sa.Column("match_rate", sa.Float),
    sa.Column("timings", sa.Text),  # JSON {stage: seconds}
    sa.Column("duration_seconds", sa.Float),
    sa.Column("message", sa.Text),
    sa.Column("error_kind", sa.String(32)),  # failed runs: auth | other (migration 5)
    sa.UniqueConstraint("audience_key", "run_id", name="uq_tiktok_sync_runs_run"),
    sa.Index("ix_tiktok_sync_runs_audience", "audience_key", "started_at"),
)

confirmed_members = sa.Table(
    "tiktok_confirmed_members",
    metadata,
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("id_type", sa.String(8), primary_key=True),
    sa.Column("id_hash", sa.String(64), primary_key=True),
)

#: Identifiers of batches sent to TikTok whose acceptance was never recorded (the journal): TikTok
#: may or may not hold them. A batch's rows are written before it is sent and deleted when TikTok's
#: acceptance is recorded; a run that sent its whole plan clears the audience's rows.
unconfirmed_members = sa.Table(
    "tiktok_unconfirmed_members",
    metadata,
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("batch_id", sa.String(32), primary_key=True),
    sa.Column("id_type", sa.String(8), primary_key=True),
    sa.Column("id_hash", sa.String(64), primary_key=True),
)

segment_snapshots = sa.Table(
    "tiktok_segment_snapshots",
    metadata,
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("segment_id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("criteria", sa.Text),
    sa.Column("captured_at", sa.DateTime, nullable=False),
)

segment_snapshot_members = sa.Table(
    "tiktok_segment_snapshot_members",
    metadata,
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("segment_id", sa.BigInteger, primary_key=True),
    sa.Column("contact_id", sa.BigInteger, primary_key=True),
)

audience_locks = sa.Table(
    "tiktok_audience_locks",
    metadata,
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("holder", sa.String(500), nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)


oauth_states = sa.Table(
    "tiktok_oauth_states",
    metadata,
    # Only a SHA-256 of the state travels into the database: a leaked row cannot finish a flow.
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(250), nullable=False),  # the Airflow user who started the flow
    sa.Column("conn_id", sa.String(250), nullable=False),
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("advertiser_id", sa.String(64)),  # the ad account the user asked for, if named
    sa.Column("api_url", sa.String(500), nullable=False),
    sa.Column("redirect_uri", sa.String(1000), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)


lookalikes = sa.Table(
    "tiktok_lookalikes",
    metadata,
    # One lookalike per audience: the one its file's ``lookalike:`` block describes.
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("tiktok_audience_id", sa.String(64)),  # the lookalike on TikTok; None until created
    sa.Column("advertiser_id", sa.String(64)),
    sa.Column("source_audience_id", sa.String(64)),  # the seed it was built from
    sa.Column("spec", sa.Text),  # JSON of the lookalike_spec it was built with (without the source)
    sa.Column("spec_hash", sa.String(64)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_message", sa.Text),
    sa.Column("cover_num", sa.BigInteger),
    sa.Column("is_valid", sa.Boolean),
    sa.Column("create_started_at", sa.DateTime),  # set just before a create, cleared once its id is stored
    sa.Column("built_at", sa.DateTime),  # when TikTok last built it (create or refresh)
    sa.Column("last_run_at", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


alerts_sent = sa.Table(
    "tiktok_alerts",
    metadata,
    # One row per alert delivered: a retried or re-run notify task skips what is already here.
    sa.Column("audience_key", sa.String(250), primary_key=True),
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("event", sa.String(32), primary_key=True),
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("conn_id", sa.String(250), nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
)


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


def utcnow() -> datetime:
    """Naive UTC: the metadata tables store UTC without a zone so SQLite and PostgreSQL agree."""
    return datetime.now(UTC).replace(tzinfo=None)


def meta_engine(conn_id: str = META_CONN_ID) -> Engine:
    """Engine of the metadata database, from its Airflow connection or the SQLite default."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return sqlite_engine(default_meta_path())
    return sql_engine_from_connection(connection)


def sql_engine_from_connection(connection) -> Engine:
    """SQLAlchemy engine through the connection's own Airflow SQL hook (any SQL provider works)."""
    hook = connection.get_hook()
    engine = hook.get_sqlalchemy_engine()
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def default_meta_path() -> str:
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return os.path.join(home, "tiktok_audiences_meta.db")


def sqlite_engine(path: str) -> Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    # Several task processes write the metadata file; WAL plus a busy timeout turns "database is
    # locked" into a short wait.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every sqlite test
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


@dataclass(frozen=True)
class LockHolder:
    """Who holds an audience lock: the run, and the process (to detect a killed worker)."""

    holder: str
    hostname: str
    pid: int

    @classmethod
    def for_run(cls, run_id: str) -> LockHolder:
        return cls(holder=run_id, hostname=socket.gethostname(), pid=os.getpid())


class AudienceStore:
    """Reads and writes the metadata tables.

    :param engine: engine of the metadata database
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- schema -------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version. Safe to call from every task."""
        with self.engine.begin() as conn:
            schema_migrations.create(conn, checkfirst=True)
        with self.engine.begin() as conn:
            applied = set(conn.execute(sa.select(schema_migrations.c.version)).scalars())
        for version, description, apply in MIGRATIONS:
            if version in applied:
                continue
            try:
                with self.engine.begin() as conn:
                    apply(conn)
                    conn.execute(
                        schema_migrations.insert().values(
                            version=version, description=description, applied_at=utcnow()
                        )
                    )
                log.info("Applied metadata migration %d: %s", version, description)
            except sa.exc.IntegrityError:
                log.info("Metadata migration %d was applied concurrently", version)
        return SCHEMA_VERSION

    # -- audiences ----------------------------------------------------------------------------

    def get_audience(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(audiences).where(audiences.c.audience_key == key)).mappings().first()
        return dict(row) if row else None

    def list_audiences(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audiences).order_by(audiences.c.name)).mappings().all()
        return [dict(r) for r in rows]

    def register_audience(self, definition: dict[str, Any], dag_id: str, *, initial_status: str) -> dict[str, Any]:
        """Create the audience row on first sight, or refresh its definition; returns the row."""
        now = utcnow()
        values = {
            "name": definition["name"],
            "integration": definition["integration"],
            "definition": json.dumps(definition, sort_keys=True),
            "dag_id": dag_id,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            updated = conn.execute(
                audiences.update().where(audiences.c.audience_key == definition["key"]).values(**values)
            ).rowcount
            if not updated:
                try:
                    conn.execute(
                        audiences.insert().values(
                            audience_key=definition["key"], status=initial_status, created_at=now, **values
                        )
                    )
                except sa.exc.IntegrityError:  # registered concurrently by another run
                    pass
        row = self.get_audience(definition["key"])
        assert row is not None
        return row

    def update_audience(self, key: str, **values: Any) -> None:
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(audiences.update().where(audiences.c.audience_key == key).values(**values))

    def delete_audience(self, key: str) -> None:
        """Forget an audience: its row, run history, confirmed set, snapshots and lock, at once."""
        with self.engine.begin() as conn:
            for table in (
                alerts_sent,
                sync_runs,
                confirmed_members,
                unconfirmed_members,
                segment_snapshot_members,
                segment_snapshots,
                audience_locks,
                lookalikes,
                audiences,
            ):
                conn.execute(table.delete().where(table.c.audience_key == key))

    # -- lookalikes ---------------------------------------------------------------------------

    def get_lookalike(self, key: str) -> dict[str, Any] | None:
        """The lookalike recorded for an audience, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(lookalikes).where(lookalikes.c.audience_key == key)).mappings().first()
        return dict(row) if row else None

    def list_lookalikes(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(lookalikes).order_by(lookalikes.c.name)).mappings().all()
        return [dict(r) for r in rows]

    def register_lookalike(self, key: str, name: str, *, initial_status: str) -> dict[str, Any]:
        """Create the audience's lookalike row on first sight (name refreshed); returns the row."""
        now = utcnow()
        with self.engine.begin() as conn:
            updated = conn.execute(
                lookalikes.update().where(lookalikes.c.audience_key == key).values(name=name, updated_at=now)
            ).rowcount
            if not updated:
                try:
                    with conn.begin_nested():
                        conn.execute(lookalikes.insert().values(audience_key=key, name=name, status=initial_status,
                                                                created_at=now, updated_at=now))
                except sa.exc.IntegrityError:  # registered concurrently
                    pass
        row = self.get_lookalike(key)
        assert row is not None
        return row

    def update_lookalike(self, key: str, **values: Any) -> None:
        if "spec" in values and not isinstance(values["spec"], str | None):
            values["spec"] = json.dumps(values["spec"], sort_keys=True)
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(lookalikes.update().where(lookalikes.c.audience_key == key).values(**values))

    def delete_lookalike(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(lookalikes.delete().where(lookalikes.c.audience_key == key))

    # -- runs ---------------------------------------------------------------------------------

    def start_run(self, key: str, run_id: str) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            updated = conn.execute(
                sync_runs.update()
                .where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
                .values(started_at=now, finished_at=None, outcome="running", message=None, error_kind=None)
            ).rowcount
            if not updated:
                conn.execute(sync_runs.insert().values(audience_key=key, run_id=run_id, started_at=now, outcome="running"))

    def finish_run(self, key: str, run_id: str, *, outcome: str, **values: Any) -> None:
        now = utcnow()
        for field in ("invalid", "timings"):
            if field in values and not isinstance(values[field], str | None):
                values[field] = json.dumps(values[field], sort_keys=True)
        with self.engine.begin() as conn:
            started = conn.execute(
                sa.select(sync_runs.c.started_at).where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
            ).scalar()
            if started is None:
                conn.execute(sync_runs.insert().values(audience_key=key, run_id=run_id, started_at=now, outcome=outcome))
                started = now
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
                .values(
                    outcome=outcome,
                    finished_at=now,
                    duration_seconds=(now - started).total_seconds(),
                    **values,
                )
            )

    def run_history(self, key: str, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(sync_runs)
                    .where(sync_runs.c.audience_key == key)
                    .order_by(sync_runs.c.started_at.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    # -- alerts -------------------------------------------------------------------------------

    def alert_facts(self, key: str, run_id: str) -> dict[str, Any]:
        """This run's history row and, from earlier runs, what the alert rules compare it with.

        Returns ``{"run": row or None, "previous_outcome": ..., "previous_match_rate": ...}``:
        the outcome of the latest earlier run that completed a sync (success or too_small) and
        the match rate of the latest earlier successful run that had one.
        """
        with self.engine.connect() as conn:
            run = conn.execute(
                sa.select(sync_runs).where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
            ).mappings().first()
            earlier = sa.and_(sync_runs.c.audience_key == key, sync_runs.c.run_id != run_id)
            if run is not None:
                earlier = sa.and_(earlier, sync_runs.c.started_at < run["started_at"])
            newest = (sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
            previous_outcome = conn.execute(
                sa.select(sync_runs.c.outcome)
                .where(earlier, sync_runs.c.outcome.in_(("success", "too_small")))
                .order_by(*newest)
                .limit(1)
            ).scalar()
            previous_match_rate = conn.execute(
                sa.select(sync_runs.c.match_rate)
                .where(earlier, sync_runs.c.outcome == "success", sync_runs.c.match_rate.is_not(None))
                .order_by(*newest)
                .limit(1)
            ).scalar()
        return {
            "run": dict(run) if run else None,
            "previous_outcome": previous_outcome,
            "previous_match_rate": previous_match_rate,
        }

    def alert_sent(self, key: str, run_id: str, event: str, channel: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(alerts_sent).where(
                    alerts_sent.c.audience_key == key,
                    alerts_sent.c.run_id == run_id,
                    alerts_sent.c.event == event,
                    alerts_sent.c.channel == channel,
                )
            ).scalar_one() > 0

    def record_alert(self, key: str, run_id: str, event: str, channel: str, conn_id: str) -> None:
        """Remember a delivered alert (idempotent)."""
        with self.engine.begin() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(
                        alerts_sent.insert().values(
                            audience_key=key, run_id=run_id, event=event, channel=channel, conn_id=conn_id,
                            sent_at=utcnow(),
                        )
                    )
            except sa.exc.IntegrityError:
                pass

    def alerts_of_run(self, key: str, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(alerts_sent)
                .where(alerts_sent.c.audience_key == key, alerts_sent.c.run_id == run_id)
                .order_by(alerts_sent.c.event, alerts_sent.c.channel)
            ).mappings().all()
        return [dict(r) for r in rows]

    # -- confirmed members --------------------------------------------------------------------

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

    def load_confirmed_identifiers(self, key: str):
        """The confirmed set as :class:`~tiktok_audiences.membership.Identifiers` (33-byte keys).

        On PostgreSQL, COPY is parsed block by block, so the hex strings of the whole set never sit
        in memory at once; elsewhere the rows are read in chunks.
        """
        return self._load_identifiers(confirmed_members, key)

    def load_unconfirmed_identifiers(self, key: str):
        """Identifiers of batches sent without a recorded acceptance (TikTok may hold them or not)."""
        from tiktok_audiences.membership import Identifiers

        unconfirmed = self._load_identifiers(unconfirmed_members, key)
        return unconfirmed if unconfirmed.empty else Identifiers.distinct(unconfirmed)

    def _load_identifiers(self, table: sa.Table, key: str):
        from tiktok_audiences.membership import Identifiers

        query = sa.select(table.c.id_type, table.c.id_hash).where(table.c.audience_key == key)
        parts = []
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                sink = _KeyBlocks()
                _copy_out(conn, query, sink)
                sink.close()
                parts = sink.parts
            else:
                for frame in pd.read_sql(query, conn, chunksize=_INSERT_CHUNK * 4):
                    parts.append(Identifiers.from_frame(frame).keys)
        if not parts:
            return Identifiers.none()
        import pyarrow as pa

        return Identifiers(pa.concat_arrays(parts) if len(parts) > 1 else parts[0])

    def begin_batch(self, key: str, *, adding: pd.DataFrame | None = None,
                    removing: pd.DataFrame | None = None) -> str:
        """Journal a batch before it is sent; returns its id for the ``confirm_*`` call after it.

        :param adding: identifiers the batch may add that are not confirmed yet
        :param removing: confirmed identifiers the batch may remove: they leave the confirmed set now
            (TikTok may no longer hold them once the request is sent)
        """
        import uuid

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

    # -- segment snapshots (for "Deleted Segment") ---------------------------------------------

    def save_segment_snapshot(
        self, key: str, segments: Sequence[dict[str, Any]], static_members: pd.DataFrame
    ) -> None:
        """Remember each segment's definition, and a static segment's members, from a good run."""
        now = utcnow()
        with self.engine.begin() as conn:
            for segment in segments:
                conn.execute(
                    segment_snapshots.delete().where(
                        segment_snapshots.c.audience_key == key,
                        segment_snapshots.c.segment_id == segment["segment_id"],
                    )
                )
                conn.execute(
                    segment_snapshots.insert().values(
                        audience_key=key,
                        segment_id=segment["segment_id"],
                        name=segment.get("name"),
                        criteria=segment.get("criteria"),
                        captured_at=now,
                    )
                )
            for segment_id, group in static_members.groupby("segment_id"):
                conn.execute(
                    segment_snapshot_members.delete().where(
                        segment_snapshot_members.c.audience_key == key,
                        segment_snapshot_members.c.segment_id == int(segment_id),
                    )
                )
                if _copy_in_snapshot(conn, key, int(segment_id), group["contact_id"].tolist()):
                    continue
                rows = [
                    {"audience_key": key, "segment_id": int(segment_id), "contact_id": int(c)}
                    for c in group["contact_id"].tolist()
                ]
                for start in range(0, len(rows), _INSERT_CHUNK):
                    conn.execute(segment_snapshot_members.insert(), rows[start : start + _INSERT_CHUNK])

    def load_segment_snapshot(self, key: str) -> dict[int, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(segment_snapshots).where(segment_snapshots.c.audience_key == key)
            ).mappings()
            return {int(r["segment_id"]): dict(r) for r in rows}

    def load_snapshot_members(self, key: str, segment_id: int) -> list[int]:
        with self.engine.connect() as conn:
            return [
                int(c)
                for c in conn.execute(
                    sa.select(segment_snapshot_members.c.contact_id).where(
                        segment_snapshot_members.c.audience_key == key,
                        segment_snapshot_members.c.segment_id == segment_id,
                    )
                ).scalars()
            ]

    # -- per-audience lock --------------------------------------------------------------------

    def wait_for_lock(
        self,
        key: str,
        holder: LockHolder,
        *,
        lease_seconds: float,
        timeout_seconds: float,
        on_wait: Callable[[LockHolder], None] | None = None,
        poll_seconds: float = 2.0,
    ) -> LockHolder | None:
        """Take the audience's lock, waiting up to ``timeout_seconds`` for another run to release it.

        Returns None once the lock is held, else the holder that still had it at the deadline.
        ``on_wait`` is called once, with that holder, when the first attempt finds the lock taken.
        """
        deadline = time.monotonic() + timeout_seconds
        current = self.acquire_lock(key, holder, lease_seconds)
        if current is not None and on_wait is not None:
            on_wait(current)
        while current is not None and time.monotonic() < deadline:
            time.sleep(poll_seconds)
            current = self.acquire_lock(key, holder, lease_seconds)
        return current

    def acquire_lock(self, key: str, holder: LockHolder, lease_seconds: float) -> LockHolder | None:
        """Take the audience's lock; returns None on success, else the current holder.

        A lock is taken over when its lease expired, or when its holder was a process on this
        host that no longer exists (a killed worker), so a crash never blocks an audience for long.
        """
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        values = {
            "holder": holder.holder,
            "hostname": holder.hostname,
            "pid": holder.pid,
            "acquired_at": now,
            "expires_at": expires,
        }
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(audience_locks).where(audience_locks.c.audience_key == key)).mappings().first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(audience_locks.insert().values(audience_key=key, **values))
                    return None
                except sa.exc.IntegrityError:
                    row = conn.execute(
                        sa.select(audience_locks).where(audience_locks.c.audience_key == key)
                    ).mappings().first()
                    if row is None:
                        return LockHolder("unknown", "unknown", 0)
            current = LockHolder(row["holder"], row["hostname"], row["pid"])
            takeover = (
                (current.hostname == holder.hostname and current.pid == holder.pid)
                or row["expires_at"] < now
                or (current.hostname == holder.hostname and not _process_alive(current.pid))
            )
            if not takeover:
                return current
            # Compare-and-set on the row we read, so two waiters cannot both take it over.
            swapped = conn.execute(
                audience_locks.update()
                .where(
                    audience_locks.c.audience_key == key,
                    audience_locks.c.holder == row["holder"],
                    audience_locks.c.acquired_at == row["acquired_at"],
                )
                .values(**values)
            ).rowcount
            return None if swapped == 1 else current

    def renew_lock(self, key: str, holder: LockHolder, lease_seconds: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                audience_locks.update()
                .where(audience_locks.c.audience_key == key, audience_locks.c.holder == holder.holder)
                .values(expires_at=utcnow() + timedelta(seconds=lease_seconds))
            )

    def release_lock(self, key: str, holder: LockHolder) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                audience_locks.delete().where(
                    audience_locks.c.audience_key == key,
                    audience_locks.c.holder == holder.holder,
                    audience_locks.c.pid == holder.pid,
                )
            )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _insert_members(conn: Connection, table: sa.Table, key: str, identifiers: pd.DataFrame,
                    batch_id: str | None = None) -> None:
    extra = {} if batch_id is None else {"batch_id": batch_id}
    if conn.dialect.name == "postgresql" and _copy_in_members(conn, table, key, identifiers, batch_id):
        return
    for chunk in _chunks(identifiers, _INSERT_CHUNK):
        rows = [
            {"audience_key": key, **extra, "id_type": t, "id_hash": h}
            for t, h in zip(chunk["id_type"].tolist(), chunk["id_hash"].tolist(), strict=True)
        ]
        if rows:
            conn.execute(table.insert(), rows)


def _delete_members(conn: Connection, table: sa.Table, key: str, identifiers: pd.DataFrame) -> None:
    for chunk in _chunks(identifiers, 500):
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


def _chunks(frame: pd.DataFrame, size: int) -> Iterable[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


_COPY_SAFE = "\t\n\r\\"
_ANALYZE_AFTER_ROWS = 100_000


def _copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_in_members(conn: Connection, table: sa.Table, key: str, identifiers: pd.DataFrame,
                     batch_id: str | None = None) -> bool:
    """Insert member rows with COPY FROM STDIN on PostgreSQL, in the connection's transaction.

    Same rows and the same primary-key checks as the INSERT path; returns False (nothing done) when
    the driver is neither psycopg nor psycopg2, or a value would need escaping.
    """
    if identifiers.empty:
        return True
    type_column = identifiers["id_type"].astype("str")
    hash_column = identifiers["id_hash"].astype("str")
    if any(c in v for v in set(type_column.unique().tolist()) for c in _COPY_SAFE):
        return False
    # Hashes are hex; anything else (never produced by this package) takes the INSERT path.
    if not hash_column.str.fullmatch(r"[0-9A-Za-z]*").all():
        return False
    columns = "audience_key, id_type, id_hash" if batch_id is None else "audience_key, batch_id, id_type, id_hash"
    statement = f"COPY {table.name} ({columns}) FROM STDIN"
    raw = conn.connection.driver_connection
    module = type(raw).__module__
    if not module.startswith("psycopg"):
        return False
    prefix = _copy_text(key) + "\t" + ("" if batch_id is None else _copy_text(batch_id) + "\t")
    step = _INSERT_CHUNK * 4
    # Python strings only for one chunk at a time (a whole 10M-contact audience as str objects is ~1.5 GB).
    for start in range(0, len(hash_column), step):
        data = "".join(
            f"{prefix}{t}\t{h}\n" for t, h in zip(type_column.iloc[start : start + step].tolist(),
                                                  hash_column.iloc[start : start + step].tolist(), strict=True)
        )
        if module.startswith("psycopg2"):
            import io

            with raw.cursor() as cursor:
                cursor.copy_expert(statement, io.StringIO(data))
        else:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(data)
        del data
    hashes = hash_column
    if len(hashes) >= _ANALYZE_AFTER_ROWS:
        # After a bulk load the planner's statistics still describe the table as it was; without
        # fresh ones it plans the next run's REMOVE deletes (id_hash IN (...)) as a scan of every
        # row of the audience instead of index look-ups. A sampled ANALYZE takes well under a second.
        with raw.cursor() as cursor:
            cursor.execute(f"ANALYZE {table.name}")
    return True


def _copy_in_snapshot(conn: Connection, key: str, segment_id: int, contact_ids: list) -> bool:
    """Static-segment members with COPY FROM STDIN on PostgreSQL (a 10M-contact database has
    static segments of 500k contacts; one INSERT per row took ~20 s). False: use INSERTs."""
    if conn.dialect.name != "postgresql" or len(contact_ids) < 1000:
        return False
    raw = conn.connection.driver_connection
    module = type(raw).__module__
    if not module.startswith("psycopg"):
        return False
    statement = f"COPY {segment_snapshot_members.name} (audience_key, segment_id, contact_id) FROM STDIN"
    prefix = f"{_copy_text(key)}\t{segment_id}\t"
    for start in range(0, len(contact_ids), _INSERT_CHUNK * 4):
        data = "".join(f"{prefix}{int(c)}\n" for c in contact_ids[start : start + _INSERT_CHUNK * 4])
        if module.startswith("psycopg2"):
            import io

            with raw.cursor() as cursor:
                cursor.copy_expert(statement, io.StringIO(data))
        else:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(data)
    return True


def _copy_out(conn: Connection, query, sink) -> None:
    """Stream ``query``'s rows through COPY TO STDOUT into ``sink.write``."""
    from tiktok_audiences import pgcopy

    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    pgcopy.copy_out(conn, f"COPY ({sql}) TO STDOUT", sink)


class _KeyBlocks(LineBlockSink):
    """A COPY sink for (id_type, id_hash) rows, turned into identifier keys every ~16 MB."""

    _BLOCK = 16 << 20

    def __init__(self) -> None:
        super().__init__()
        self.parts: list = []

    def parse_block(self, block: bytes) -> None:
        from tiktok_audiences.membership import identifier_keys

        table = _parse_member_text(block)
        self.parts.append(identifier_keys(table.column("id_type"), table.column("id_hash")))


def _parse_member_text(data: bytes):
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = ["id_type", "id_hash"]
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=columns, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )


def _copy_out_members(conn: Connection, query) -> pd.DataFrame:
    """``query``'s (id_type, id_hash) rows through COPY TO STDOUT, parsed by Arrow."""
    import io

    buffer = io.BytesIO()
    _copy_out(conn, query, buffer)
    data = buffer.getvalue()
    del buffer
    if not data:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in ("id_type", "id_hash")})
    return _parse_member_text(data).to_pandas().astype({"id_type": "str", "id_hash": "str"})
