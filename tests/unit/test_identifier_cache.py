"""The identifier cache reuses hashes of unchanged contacts and gives exactly what a full re-hash gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from tests.integration.contacts import ContactDatabase, email, maid
from tiktok_audiences.members import identifier_cache
from tiktok_audiences.members.identifier_cache import cache_key, unchanged_contacts
from tiktok_audiences.members.identifier_types import DEFAULT_NORMALIZATION, Normalization
from tiktok_audiences.members.reading import RoleStats, role_members
from tiktok_audiences.members.segments import PG_DIGEST, digest_kind, resolve_segments
from tiktok_audiences.members.sql import WORK_MEM_ENV, SqlTemplates, extract_work_mem, read_only

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"
TYPES = ["email", "phone", "maid"]


@pytest.fixture(params=["sqlite", "postgresql+psycopg2", "postgresql+psycopg"])
def contacts(request, tmp_path) -> ContactDatabase:
    """Contacts 1..400 (segment 1: all, static segment 2: 1..150), with some invalid identifiers."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'contacts.db'}")
    else:  # both drivers the Airflow postgres provider may hand out
        engine = sa.create_engine(request.getfixturevalue("postgres_database").url.set(drivername=request.param))
    db = ContactDatabase(engine)
    db.add_contacts(range(1, 401))
    db.add_segment(1, "All", criteria="contact_id > 0")
    db.add_segment(2, "Static", members=range(1, 151))
    db.execute("UPDATE contacts SET phone = '12', phone_country = 'US' WHERE contact_id % 17 = 0")
    db.execute("UPDATE contacts SET email = 'not an email' WHERE contact_id % 23 = 0")
    db.execute("UPDATE contacts SET phone = '07911 123456', phone_country = NULL WHERE contact_id % 29 = 0")
    return db


def members(db: ContactDatabase, segment_ids, folder, id_types=TYPES,
            normalization: Normalization = DEFAULT_NORMALIZATION) -> tuple[set, RoleStats]:
    sql = SqlTemplates.load(SQL_DIR)
    stats = RoleStats()
    rows: set[tuple[int, bytes]] = set()
    with read_only(db.engine) as conn:
        segments = resolve_segments(conn, sql, segment_ids, {}, {})
        for frame in role_members(conn, sql, [segments[s] for s in segment_ids], id_types, folder,
                                  chunk_size=64, stats=stats, normalization=normalization):
            rows.update(zip(frame.column("contact_id").to_pylist(), frame.column("key").to_pylist(), strict=True))
    return rows, stats


def change_contacts(db: ContactDatabase) -> None:
    """1% churn of every kind: new identifiers, removed ones, region-only change, joins and leaves."""
    db.execute("UPDATE contacts SET email = 'Changed.' || contact_id || '@Example.com' WHERE contact_id IN (3, 40, 77)")
    db.execute("UPDATE contacts SET phone = NULL WHERE contact_id = 10")
    db.execute("UPDATE contacts SET mobile_ad_id = :m WHERE contact_id = 11", m=maid(9000).upper())
    # Only the region changes: the same national number now reads as another country's number.
    db.execute("UPDATE contacts SET phone_country = 'GB' WHERE contact_id = 29")
    db.execute("UPDATE contacts SET email = :e WHERE contact_id = 23", e=email(23))  # an invalid one made valid
    db.add_contacts([401, 402])
    db.add_members(2, [200, 401])
    db.remove_members(2, [5, 6])


def test_second_run_reuses_unchanged_contacts_and_matches_a_full_rehash(contacts, tmp_path):
    folder = tmp_path / "cache"
    first, first_stats = members(contacts, [2], folder)
    assert first_stats.cache == "cold" and first_stats.hashed == 150

    change_contacts(contacts)
    cached, stats = members(contacts, [2], folder)
    full, full_stats = members(contacts, [2], None)

    assert cached == full
    assert (stats.invalid, stats.missing, stats.contacts) == (full_stats.invalid, full_stats.missing,
                                                              full_stats.contacts)
    assert stats.cache == "warm"
    # Changed in segment 2: 3, 40, 77 (email), 10, 11, 29, 23 and the joiners 200, 401.
    assert stats.hashed == 9 and stats.reused == 150 - 2 - 7


def test_criteria_segment_with_no_changes_hashes_nothing(contacts, tmp_path):
    folder = tmp_path / "cache"
    first, _ = members(contacts, [1], folder)
    again, stats = members(contacts, [1], folder)
    assert again == first and stats.hashed == 0 and stats.reused == 400


def test_cache_from_older_normalization_rules_is_not_used(contacts, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    members(contacts, [2], folder)
    change_contacts(contacts)
    monkeypatch.setattr(identifier_cache, "NORMALIZATION_VERSION", 999)
    cached, stats = members(contacts, [2], folder)
    assert stats.cache == "cold" and stats.reused == 0
    monkeypatch.undo()
    assert cached == members(contacts, [2], None)[0]


@pytest.mark.parametrize("options", [{"phone_format": "both"}, {"phone_format": "e164"},
                                     {"email_plus_suffix": "keep"}, {"email_dots": "gmail"}])
def test_cache_from_other_normalization_options_is_not_used(contacts, tmp_path, options):
    """A cache of digits-form phone hashes must never be served to an audience asking for E.164."""
    folder = tmp_path / "cache"
    members(contacts, [2], folder)
    other = Normalization(**options)
    rows, stats = members(contacts, [2], folder, normalization=other)
    assert stats.cache == "cold" and stats.reused == 0
    assert rows == members(contacts, [2], None, normalization=other)[0]
    again, stats = members(contacts, [2], folder, normalization=other)
    assert stats.cache == "warm" and stats.hashed == 0 and again == rows


def test_cache_key_names_every_option():
    key = cache_key(["phone"], "md5", Normalization(phone_format="both", email_dots="gmail"))
    assert key["options"] == {"phone_format": "both", "email_plus_suffix": "remove", "email_dots": "gmail"}
    assert cache_key(["phone"], "md5") != key


def test_cache_for_other_identifier_types_is_not_used(contacts, tmp_path):
    folder = tmp_path / "cache"
    members(contacts, [2], folder, id_types=["email"])
    rows, stats = members(contacts, [2], folder)
    assert stats.cache == "cold" and rows == members(contacts, [2], None)[0]


def test_unreadable_cache_is_ignored(contacts, tmp_path):
    folder = tmp_path / "cache"
    members(contacts, [2], folder)
    (folder / "manifest.json").write_text('{"key": ')
    rows, stats = members(contacts, [2], folder)
    assert stats.cache == "cold" and rows == members(contacts, [2], None)[0]


def test_failed_run_leaves_previous_cache_current(contacts, tmp_path):
    folder = tmp_path / "cache"
    first, _ = members(contacts, [1], folder)
    sql = SqlTemplates.load(SQL_DIR)
    with read_only(contacts.engine) as conn:
        segments = resolve_segments(conn, sql, [1], {}, {})
        frames = role_members(conn, sql, [segments[1]], TYPES, folder, chunk_size=64)
        next(frames)
        frames.close()  # the task died while writing staging
    assert len(list(folder.iterdir())) == 3  # manifest + the previous generation's two files
    rows, stats = members(contacts, [1], folder)
    assert stats.cache == "warm" and stats.hashed == 0 and rows == first


def test_a_run_still_reading_a_replaced_generation_can_finish(contacts, tmp_path):
    """Runs of one audience extract concurrently (a backfill, a manual run): commits of others must
    not delete the generation a run has loaded and is about to read."""
    folder = tmp_path / "cache"
    first, _ = members(contacts, [1], folder)
    with read_only(contacts.engine) as conn:
        cached = identifier_cache.load(folder, cache_key(TYPES, digest_kind(conn)))
    assert cached is not None
    for n in range(2):  # meanwhile two other runs commit newer generations
        contacts.execute("UPDATE contacts SET email = :e WHERE contact_id = 3", e=f"moved{n}@example.com")
        members(contacts, [1], folder)
    rows = {(c, k) for table in cached.members(cached.contact_ids)
            for c, k in zip(table.column("contact_id").to_pylist(), table.column("key").to_pylist(), strict=True)}
    assert rows == first


def test_cache_files_hold_no_raw_identifiers(contacts, tmp_path):
    folder = tmp_path / "cache"
    members(contacts, [1], folder)
    raw = [email(i).encode() for i in (1, 2, 150)] + [maid(3).encode(), maid(3).upper().encode(), b"+447911"]
    for path in folder.iterdir():
        content = path.read_bytes()
        assert [r for r in raw if r in content] == [], path


def test_unchanged_contacts_compares_ids_and_digests():
    cached_ids = np.array([2, 5, 9], dtype=np.int64)
    cached_digests = np.array([20, 50, 90], dtype=np.int64)
    ids = np.array([9, 1, 5, 2, 12], dtype=np.int64)
    digests = np.array([90, 10, 51, 20, 0], dtype=np.int64)
    mask, positions = unchanged_contacts(ids, digests, cached_ids, cached_digests)
    assert mask.tolist() == [True, False, False, True, False]
    assert positions[mask].tolist() == [2, 0]
    empty, _ = unchanged_contacts(ids, digests, cached_ids[:0], cached_digests[:0])
    assert not empty.any()


def test_cache_url_can_be_turned_off(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv(identifier_cache.CACHE_ENV, raising=False)
    assert identifier_cache.cache_base_url() == f"file://{tmp_path}/tiktok_audiences/cache"
    monkeypatch.setenv(identifier_cache.CACHE_ENV, "off")
    assert identifier_cache.cache_base_url() is None


def test_digests_differ_when_values_move_between_columns(postgres_database):
    """Each column is length-prefixed: shifting text between columns or NULL ↔ '' changes the digest."""
    rows = [("ab", None, None, None), ("a", "b", None, None), ("a", None, "b", None), ("", None, None, None),
            (None, None, None, None), (None, "", None, None), ("1:a", None, None, None), ("", "a", None, None)]
    values = ", ".join(
        "(" + ", ".join("NULL::text" if v is None else f"'{v}'::text" for v in row) + ")" for row in rows
    )
    with postgres_database.connect() as conn:
        digests = conn.execute(sa.text(
            f"SELECT {PG_DIGEST} FROM (VALUES {values}) AS c(email, phone, phone_country, mobile_ad_id)"
        )).scalars().all()
    assert len(set(digests)) == len(rows)


def test_extract_work_mem_is_validated(monkeypatch):
    monkeypatch.setenv(WORK_MEM_ENV, "1GB")
    assert extract_work_mem() == "1GB"
    monkeypatch.setenv(WORK_MEM_ENV, "1GB'; DROP TABLE contacts; --")
    with pytest.raises(ValueError, match="Fix:"):
        extract_work_mem()


def test_forgetting_an_audience_removes_both_roles_of_its_cache(tmp_path):
    base = f"file://{tmp_path}/cache"
    for role in ("include", "exclude"):
        folder = identifier_cache.audience_folder(base, "vip", role)
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{}")
    other = identifier_cache.audience_folder(base, "other", "include")
    other.mkdir(parents=True)

    assert identifier_cache.forget_audience("vip", base) is True
    assert not (tmp_path / "cache" / "vip").exists() and other.exists()
    assert identifier_cache.forget_audience("vip", base) is False
