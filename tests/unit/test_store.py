"""Metadata tables: migrations, the confirmed set, the per-audience lock (on SQLite files)."""

from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa

from tiktok_audiences.store import SCHEMA_VERSION, AudienceStore, LockHolder, sqlite_engine


def store_at(path) -> AudienceStore:
    store = AudienceStore(sqlite_engine(str(path)))
    store.migrate()
    return store


def test_migrations_run_once_per_database_even_in_one_process(tmp_path):
    for name in ("a.db", "b.db"):
        store = store_at(tmp_path / name)
        assert store.migrate() == SCHEMA_VERSION
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM tiktok_schema_migrations")).scalar() == SCHEMA_VERSION


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


def test_confirmed_identifiers_load_as_keys_on_sqlite_and_postgresql(tmp_path, postgres_database):
    import hashlib

    from tiktok_audiences.store import _KeyBlocks

    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)]
    frame = pd.DataFrame({"id_type": ["email", "phone", "maid"] * 1000, "id_hash": hashes})
    psycopg3 = sa.create_engine(postgres_database.url.set(drivername="postgresql+psycopg"))
    for engine in (sqlite_engine(str(tmp_path / "m.db")), postgres_database, psycopg3):
        store = AudienceStore(engine)
        store.migrate()
        if engine is not psycopg3:  # the same database as postgres_database, read with the other driver
            store.confirm_added("k", frame)
            store.confirm_added("other", frame.iloc[:5])
        loaded = store.load_confirmed_identifiers("k").to_frame()
        assert sorted(map(tuple, loaded.values.tolist())) == sorted(map(tuple, frame.values.tolist()))
    # COPY output is parsed in blocks; a block boundary never splits a row.
    sink = _KeyBlocks()
    sink._BLOCK = 1000
    for start in range(0, 3000, 7):
        sink.write("".join(f"{t}\t{h}\n" for t, h in zip(frame["id_type"][start:start + 7],
                                                          frame["id_hash"][start:start + 7], strict=True)))
    sink.close()
    assert sum(len(p) for p in sink.parts) == 3000 and len(sink.parts) > 10


def test_large_static_segment_snapshot_round_trips_on_postgresql(postgres_database):
    store = AudienceStore(postgres_database)
    store.migrate()
    segments = [{"segment_id": 2, "name": "Static", "criteria": None}]
    for members in (range(1, 2001), range(1000, 3500)):  # saved twice: the second replaces the first
        static = pd.DataFrame({"segment_id": 2, "contact_id": list(members)})
        store.save_segment_snapshot("k", segments, static)
    assert sorted(store.load_snapshot_members("k", 2)) == list(range(1000, 3500))
