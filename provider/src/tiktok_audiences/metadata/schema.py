"""The metadata tables (SQLAlchemy Core): one ``sa.Table`` per table, all in :data:`metadata`.

A table is created by a migration (:mod:`tiktok_audiences.metadata.migrations`) as defined here;
a column added later is added to older databases by its own migration.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

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


def utcnow() -> datetime:
    """Naive UTC: the metadata tables store UTC without a zone so SQLite and PostgreSQL agree."""
    return datetime.now(UTC).replace(tzinfo=None)
