"""The metadata side of alerts: migration 5, what the rules compare a run with, sent-alert records."""

from __future__ import annotations

import time

import sqlalchemy as sa

from tiktok_audiences.metadata import AudienceStore
from tiktok_audiences.metadata.engines import sqlite_engine
from tiktok_audiences.metadata.schema import schema_migrations, sync_runs, utcnow


def test_migration_5_adds_error_kind_to_a_database_from_before_it(tmp_path):
    engine = sqlite_engine(str(tmp_path / "old.db"))
    old = sa.MetaData()
    sa.Table(
        sync_runs.name,
        old,
        *[sa.Column(c.name, c.type, primary_key=c.primary_key) for c in sync_runs.columns if c.name != "error_kind"],
    )
    with engine.begin() as conn:
        old.create_all(conn)
        schema_migrations.create(conn)
        conn.execute(schema_migrations.insert(), [
            {"version": version, "description": "old", "applied_at": utcnow()} for version in (1, 2, 3, 4)
        ])
    store = AudienceStore(engine)
    store.migrate()
    assert "error_kind" in {c["name"] for c in sa.inspect(engine).get_columns(sync_runs.name)}
    store.finish_run("k", "r1", outcome="failed", error_kind="auth")
    assert store.run_history("k")[0]["error_kind"] == "auth"


def _run(store: AudienceStore, run_id: str, outcome: str, match_rate=None) -> None:
    store.start_run("k", run_id)
    store.finish_run("k", run_id, outcome=outcome, match_rate=match_rate)
    time.sleep(0.01)  # distinct start times


def test_alert_facts_compare_with_the_latest_completed_and_successful_runs(tmp_path):
    store = AudienceStore(sqlite_engine(str(tmp_path / "m.db")))
    store.migrate()
    _run(store, "r1", "success", 0.8)
    _run(store, "r2", "success", None)  # TikTok still processing: no rate
    _run(store, "r3", "too_small")
    _run(store, "r4", "failed")
    _run(store, "r5", "dry_run")
    _run(store, "r6", "success", 0.5)
    facts = store.alert_facts("k", "r6")
    assert facts["run"]["outcome"] == "success" and facts["run"]["match_rate"] == 0.5
    assert facts["previous_outcome"] == "too_small"
    assert facts["previous_match_rate"] == 0.8
    assert store.alert_facts("k", "unknown")["run"] is None


def test_recording_an_alert_twice_keeps_one_row(tmp_path):
    store = AudienceStore(sqlite_engine(str(tmp_path / "m.db")))
    store.migrate()
    assert not store.alert_sent("k", "r1", "failed", "email")
    store.record_alert("k", "r1", "failed", "email", "smtp_default")
    store.record_alert("k", "r1", "failed", "email", "smtp_default")
    assert store.alert_sent("k", "r1", "failed", "email")
    assert not store.alert_sent("k", "r1", "failed", "slack")
    assert len(store.alerts_of_run("k", "r1")) == 1
    store.delete_audience("k")
    assert store.alerts_of_run("k", "r1") == []
