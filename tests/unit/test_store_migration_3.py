"""Migration 3: audiences remember the API they were sent with; older audiences were customer files."""

from __future__ import annotations

import sqlalchemy as sa

from tiktok_audiences.metadata import AudienceStore
from tiktok_audiences.metadata.engines import sqlite_engine


def test_migration_3_adds_the_api_column_and_marks_existing_audiences_customer_file(tmp_path):
    store = AudienceStore(sqlite_engine(str(tmp_path / "m.db")))
    store.migrate()
    # Make the database look like one at version 2: no api column yet, one synced and one new audience.
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE tiktok_audiences DROP COLUMN api"))
        conn.execute(sa.text("DELETE FROM tiktok_schema_migrations WHERE version = 3"))
    for key, audience_id in (("synced", "7300000000000000001"), ("new", None)):
        definition = {"key": key, "name": key, "integration": "tiktok_default"}
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO tiktok_audiences (audience_key, name, integration, definition, dag_id, "
                "tiktok_audience_id, status, created_at, updated_at) VALUES (:k, :k, 'tiktok_default', :d, :k, :a, "
                "'Active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"k": key, "d": str(definition), "a": audience_id})

    store.migrate()

    assert store.get_audience("synced")["api"] == "customer_file"
    assert store.get_audience("new")["api"] is None
