"""Metadata tables: migrations, the confirmed set, the per-audience lock (on SQLite files)."""

from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa

from tiktok_audiences.metadata import AudienceStore, LockHolder
from tiktok_audiences.metadata.engines import sqlite_engine
from tiktok_audiences.metadata.migrations import MIGRATIONS, SCHEMA_VERSION


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


def _pairs(identifiers) -> set[tuple[str, str]]:
    return set(map(tuple, identifiers.to_frame().values.tolist()))


def test_journal_remembers_batches_whose_acceptance_was_never_recorded(tmp_path, postgres_database):
    """What TikTok may hold = confirmed ∪ unconfirmed; what it surely holds = confirmed."""
    a, b, c, d = (pd.DataFrame({"id_type": ["email"], "id_hash": [ch * 64]}) for ch in "abcd")
    for engine in (sqlite_engine(str(tmp_path / "m.db")), postgres_database):
        store = AudienceStore(engine)
        store.migrate()
        store.forget_confirmed("k")
        store.confirm_added("k", pd.concat([a, b]))
        # An APPEND of c is sent and its answer lost; a REMOVE of b is sent and its answer lost.
        store.begin_batch("k", adding=c)
        store.begin_batch("k", removing=b)
        assert _pairs(store.load_confirmed_identifiers("k")) == {("email", "a" * 64)}
        assert _pairs(store.load_unconfirmed_identifiers("k")) == {("email", "b" * 64), ("email", "c" * 64)}
        # A batch TikTok accepted leaves the journal in the same transaction that confirms it.
        batch = store.begin_batch("k", adding=d)
        store.confirm_added("k", d, batch)
        assert _pairs(store.load_confirmed_identifiers("k")) == {("email", "a" * 64), ("email", "d" * 64)}
        assert len(store.load_unconfirmed_identifiers("k")) == 2
        # Adopting an interrupted create keeps the journal; a REPLACE or a settled plan clears it.
        store.forget_confirmed("k", unconfirmed=False)
        assert len(store.load_unconfirmed_identifiers("k")) == 2
        store.settle_unconfirmed("k")
        assert store.load_unconfirmed_identifiers("k").empty
        store.begin_batch("k", adding=a)
        store.confirm_replaced("k", a)
        assert store.load_unconfirmed_identifiers("k").empty and len(store.load_confirmed_identifiers("k")) == 1


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
    import tiktok_audiences.metadata.migrations as migrations_module

    shipped = list(migrations_module.MIGRATIONS)
    store = AudienceStore(sqlite_engine(str(tmp_path / "m.db")))
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [m for m in shipped if m[0] != 3])
    store.migrate()
    applied = []
    late = (3, "a migration merged later", lambda conn: applied.append(3))
    monkeypatch.setattr(migrations_module, "MIGRATIONS", sorted([*(m for m in shipped if m[0] != 3), late]))
    store.migrate()
    store.migrate()
    assert applied == [3]
    with store.engine.connect() as conn:
        versions = (
            conn.execute(sa.text("SELECT version FROM tiktok_schema_migrations ORDER BY version")).scalars().all()
        )
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
    store.register_audience(
        {"key": "vip", "name": "VIP", "integration": "tiktok_default"}, "d", initial_status="Pending"
    )
    store.delete_audience("vip")
    assert store.get_lookalike("vip") is None


def test_confirmed_identifiers_load_as_keys_on_sqlite_and_postgresql(tmp_path, postgres_database):
    import hashlib

    from tiktok_audiences.metadata.members import _KeyBlocks

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
