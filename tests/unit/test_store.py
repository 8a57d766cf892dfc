"""Metadata tables: migrations, the confirmed set, the per-audience lock (on SQLite files)."""

from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa

from tiktok_audiences.store import MIGRATIONS, SCHEMA_VERSION, AudienceStore, LockHolder, sqlite_engine


def store_at(path) -> AudienceStore:
    store = AudienceStore(sqlite_engine(str(path)))
    store.migrate()
    return store


def test_migrations_run_once_per_database_even_in_one_process(tmp_path):
    for name in ("a.db", "b.db"):
        store = store_at(tmp_path / name)
        assert store.migrate() == SCHEMA_VERSION
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM tiktok_schema_migrations")).scalar() == len(MIGRATIONS)


def test_confirmed_set_add_remove_replace(tmp_path):
    store = store_at(tmp_path / "m.db")
    frame = pd.DataFrame({"id_type": ["email", "phone"], "id_hash": ["a" * 64, "b" * 64]})
    store.confirm_added("k", frame)
    store.confirm_removed("k", frame.iloc[:1])
    assert store.load_confirmed("k").values.tolist() == [["phone", "b" * 64]]
    store.confirm_replaced("k", frame.iloc[:1])
    assert store.load_confirmed("k").values.tolist() == [["email", "a" * 64]]


def test_lock_excludes_a_second_run(tmp_path):
    store = store_at(tmp_path / "m.db")
    first = LockHolder("run-1", "host", os.getpid())
    assert store.acquire_lock("k", first, 600) is None
    blocked_by = store.acquire_lock("k", LockHolder("run-2", "host", 2**22 + 54321), 600)
    assert blocked_by is not None and blocked_by.holder == "run-1"


def test_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    store = store_at(tmp_path / "m.db")
    dead = LockHolder("run-1", LockHolder.for_run("x").hostname, 2**22 + 12345)  # no such pid
    assert store.acquire_lock("k", dead, 600) is None
    assert store.acquire_lock("k", LockHolder.for_run("run-2"), 600) is None


def test_expired_lock_is_taken_over(tmp_path):
    store = store_at(tmp_path / "m.db")
    assert store.acquire_lock("k", LockHolder("run-1", "other-host", 1), -1) is None
    assert store.acquire_lock("k", LockHolder.for_run("run-2"), 600) is None


def test_live_lock_on_another_host_blocks(tmp_path):
    store = store_at(tmp_path / "m.db")
    assert store.acquire_lock("k", LockHolder("run-1", "other-host", 1), 600) is None
    assert store.acquire_lock("k", LockHolder.for_run("run-2"), 600).holder == "run-1"


def test_migrations_with_a_gap_in_version_numbers_apply_each_once(tmp_path, monkeypatch):
    """Version numbers are assigned per branch: a database migrated without 3 gets 3 once it is merged."""
    import tiktok_audiences.store as store_module

    shipped = list(store_module.MIGRATIONS)
    store = AudienceStore(sqlite_engine(str(tmp_path / "m.db")))
    monkeypatch.setattr(store_module, "MIGRATIONS", [m for m in shipped if m[0] != 3])
    store.migrate()
    applied = []
    late = (3, "a migration merged later", lambda conn: applied.append(3))
    monkeypatch.setattr(store_module, "MIGRATIONS", sorted([*(m for m in shipped if m[0] != 3), late]))
    store.migrate()
    store.migrate()
    assert applied == [3]
    with store.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version FROM tiktok_schema_migrations ORDER BY version")).scalars().all()
    assert versions == [v for v, _d, _f in shipped]


def test_lookalike_row_round_trip(tmp_path):
    store = store_at(tmp_path / "m.db")
    assert store.get_lookalike("vip") is None
    row = store.register_lookalike("vip", "VIP (lookalike)", initial_status="Waiting for Source")
    assert row["status"] == "Waiting for Source" and row["tiktok_audience_id"] is None
    store.update_lookalike("vip", tiktok_audience_id="7300000000000000002", spec={"audience_size": "BROAD"},
                           spec_hash="h", status="Initiating", cover_num=None, is_valid=False)
    row = store.register_lookalike("vip", "VIP lookalike", initial_status="Waiting for Source")
    assert row["name"] == "VIP lookalike" and row["status"] == "Initiating"
    assert row["spec"] == '{"audience_size": "BROAD"}' and row["tiktok_audience_id"] == "7300000000000000002"
    assert [r["audience_key"] for r in store.list_lookalikes()] == ["vip"]
    store.register_audience({"key": "vip", "name": "VIP", "integration": "tiktok_default"}, "d", initial_status="Pending")
    store.delete_audience("vip")
    assert store.get_lookalike("vip") is None
