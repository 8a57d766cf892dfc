"""Unit tests for tiktok_sandbox.demo_data on SQLite (pure Python, no Airflow).

The PostgreSQL test uses the test server of the integration suite when it is
reachable (scripts/start-postgres.sh or TIKTOK_TEST_POSTGRES_URL) and is skipped
otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

# Same server and override variable as the integration suite.
from tests.fixtures import DEFAULT_POSTGRES_URL, POSTGRES_URL_ENV
from tiktok_audiences.members import hash_members
from tiktok_sandbox.demo_data import (
    DEMO_SEGMENTS,
    SEGMENTS,
    DemoSummary,
    build_demo_database,
    create_reference_schema,
    generate_contacts,
)

CONTACTS = 5_000
SEED = 7

EXPECTED_SEGMENTS = [
    (1, "All subscribers", "subscription_status = 'subscribed'", None),
    (2, "North America", "phone_country IN ('US', 'CA')", None),
    (3, "Active since June 2026", "updated_at >= '2026-06-01'", None),
    (4, "VIP customers", None, None),
    (5, "Unsubscribed", "subscription_status = 'unsubscribed'", None),
    (6, "Suppression list", None, None),
    (7, "Spring 2026 campaign", None, datetime(2026, 10, 15, 9, 0, 0)),
    (8, "Internal test accounts", "contact_id <= 600", None),
]
CRITERIA = [(sid, criteria) for sid, _, criteria, _ in EXPECTED_SEGMENTS if criteria]


def sqlite_engine(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}")


def all_rows(engine: sa.Engine, table: str, order: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order}"))]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[tuple[sa.Engine, DemoSummary]]:
    engine = sqlite_engine(tmp_path_factory.mktemp("demo") / "demo.db")
    summary = build_demo_database(engine, contacts=CONTACTS, seed=SEED)
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="module")
def engine(built) -> sa.Engine:
    return built[0]


@pytest.fixture(scope="module")
def contacts_frame(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text("SELECT * FROM contacts ORDER BY contact_id"), conn)


@pytest.fixture(scope="module")
def hashed(contacts_frame):
    return hash_members(contacts_frame)


# --------------------------------------------------------------------- schema


def test_schema_tables_exist(engine):
    assert {"contacts", "segments", "segment_members"} <= set(sa.inspect(engine).get_table_names())


@pytest.mark.parametrize(
    ("table", "columns", "primary_key"),
    [
        (
            "contacts",
            {
                "contact_id": "BIGINT",
                "email": "TEXT",
                "phone": "TEXT",
                "phone_country": "TEXT",
                "mobile_ad_id": "TEXT",
                "subscription_status": "TEXT",
                "updated_at": "TIMESTAMP",
            },
            ["contact_id"],
        ),
        (
            "segments",
            {"segment_id": "BIGINT", "name": "TEXT", "criteria": "TEXT", "deleted_at": "TIMESTAMP"},
            ["segment_id"],
        ),
        (
            "segment_members",
            {"segment_id": "BIGINT", "contact_id": "BIGINT"},
            ["segment_id", "contact_id"],
        ),
    ],
)
def test_schema_columns_types_and_keys(engine, table, columns, primary_key):
    inspector = sa.inspect(engine)
    found = {c["name"]: str(c["type"]) for c in inspector.get_columns(table)}
    assert found == columns
    assert inspector.get_pk_constraint(table)["constrained_columns"] == primary_key


def test_segment_name_is_not_null(engine):
    name = next(c for c in sa.inspect(engine).get_columns("segments") if c["name"] == "name")
    assert name["nullable"] is False


def test_create_reference_schema_is_idempotent(tmp_path):
    db = sqlite_engine(tmp_path / "schema.db")
    create_reference_schema(db)
    create_reference_schema(db)
    assert {"contacts", "segments", "segment_members"} <= set(sa.inspect(db).get_table_names())


def test_create_reference_schema_drop_existing_empties_tables(tmp_path):
    db = sqlite_engine(tmp_path / "drop.db")
    build_demo_database(db, contacts=50, seed=1)
    create_reference_schema(db, drop_existing=True)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 0


# ------------------------------------------------------------------- contents


def test_summary(built):
    _, summary = built
    assert summary == DemoSummary(
        contacts=CONTACTS, segments={sid: name for sid, name, _, _ in EXPECTED_SEGMENTS}
    )


def test_row_counts(engine):
    with engine.connect() as conn:
        count = lambda table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: E731
        assert count("contacts") == CONTACTS
        assert count("segments") == 8
        # VIP 9% + suppression 4% + spring campaign 12%
        assert count("segment_members") == round(CONTACTS * 0.09) + round(CONTACTS * 0.04) + round(
            CONTACTS * 0.12
        )


def test_segments_have_fixed_ids_names_criteria(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(SEGMENTS).order_by(SEGMENTS.c.segment_id)).all()
    assert [tuple(r) for r in rows] == EXPECTED_SEGMENTS


def test_demo_segments_constant_matches_fixed_definition():
    assert [
        (s.segment_id, s.name, s.criteria, s.deleted_at) for s in DEMO_SEGMENTS
    ] == EXPECTED_SEGMENTS


@pytest.mark.parametrize(("segment_id", "criteria"), CRITERIA)
def test_segment_criteria_select_some_contacts(engine, segment_id, criteria):
    with engine.connect() as conn:
        count = conn.execute(
            sa.text(f"SELECT count(*) FROM contacts WHERE ({criteria})")
        ).scalar_one()
    assert 0 < count < CONTACTS


@pytest.mark.parametrize(("segment_id", "share"), [(4, 0.09), (6, 0.04), (7, 0.12)])
def test_static_segment_sizes(engine, segment_id, share):
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM segment_members WHERE segment_id = :s"), {"s": segment_id}
        ).scalar_one()
    assert count == round(CONTACTS * share)


def test_only_static_segments_have_members(engine):
    with engine.connect() as conn:
        ids = {
            r[0] for r in conn.execute(sa.text("SELECT DISTINCT segment_id FROM segment_members"))
        }
    assert ids == {4, 6, 7}


def test_segment_members_reference_existing_contacts(engine):
    with engine.connect() as conn:
        orphans = conn.execute(
            sa.text(
                "SELECT count(*) FROM segment_members m "
                "LEFT JOIN contacts c ON c.contact_id = m.contact_id WHERE c.contact_id IS NULL"
            )
        ).scalar_one()
    assert orphans == 0


def test_contact_ids_are_1_to_n(contacts_frame):
    assert contacts_frame["contact_id"].tolist() == list(range(1, CONTACTS + 1))


def test_subscription_statuses(contacts_frame):
    assert set(contacts_frame["subscription_status"]) == {
        "subscribed",
        "unsubscribed",
        "transactional",
    }


def test_updated_at_within_demo_window(contacts_frame):
    updated = pd.to_datetime(contacts_frame["updated_at"])
    assert updated.min() >= pd.Timestamp("2025-01-01")
    assert updated.max() < pd.Timestamp("2026-11-01")
    assert updated.dt.tz is None


# ---------------------------------------------------------------- determinism


def test_same_seed_builds_identical_rows(engine, tmp_path):
    again = sqlite_engine(tmp_path / "again.db")
    build_demo_database(again, contacts=CONTACTS, seed=SEED)
    for table, order in [
        ("contacts", "contact_id"),
        ("segments", "segment_id"),
        ("segment_members", "segment_id, contact_id"),
    ]:
        assert all_rows(again, table, order) == all_rows(engine, table, order)


def test_different_seed_builds_different_contacts():
    assert generate_contacts(200, 1) != generate_contacts(200, 2)


def test_rebuild_replaces_previous_data(tmp_path):
    db = sqlite_engine(tmp_path / "rebuild.db")
    build_demo_database(db, contacts=300, seed=1)
    build_demo_database(db, contacts=100, seed=1)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 100


# -------------------------------------------------------------------- messiness


@pytest.mark.parametrize(
    "reason",
    [
        "email_malformed",
        "phone_no_region",
        "phone_unknown_region",
        "phone_unparseable",
        "phone_invalid",
        "maid_malformed",
        "maid_zeroed",
    ],
)
def test_demo_data_has_invalid_identifiers(hashed, reason):
    assert hashed.invalid.get(reason, 0) > 0


def test_most_identifiers_are_valid(hashed):
    invalid = sum(hashed.invalid.values())
    assert invalid < 0.1 * len(hashed.members)
    assert hashed.members["id_type"].value_counts()["email"] > 0.75 * CONTACTS


def test_demo_data_has_missing_identifiers(hashed):
    assert all(hashed.missing[t] > 0 for t in ("email", "phone", "maid"))


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.fillna("").str.strip() == "")


def test_about_three_percent_have_no_identifier(contacts_frame):
    none = (
        _blank(contacts_frame["email"])
        & _blank(contacts_frame["phone"])
        & _blank(contacts_frame["mobile_ad_id"])
    )
    assert 0.02 < none.mean() < 0.045


def test_maids_on_about_forty_percent(contacts_frame):
    assert 0.3 < contacts_frame["mobile_ad_id"].notna().mean() < 0.45


def test_demo_data_has_prehashed_emails(contacts_frame):
    emails = contacts_frame["email"].dropna().str.strip()
    prehashed = emails[emails.str.fullmatch(r"[0-9a-fA-F]{64}")]
    assert len(prehashed) > 0
    assert prehashed.str.fullmatch(r"[0-9A-F]{64}").any()


def test_demo_data_has_idn_domains(contacts_frame):
    assert contacts_frame["email"].dropna().str.contains("bücher.de", regex=False).any()


def test_demo_data_has_mixed_case_and_padded_emails(contacts_frame):
    emails = contacts_frame["email"].dropna()
    assert (emails != emails.str.lower()).any()
    assert (emails != emails.str.strip()).any()


def test_demo_data_has_full_width_phones(contacts_frame):
    assert contacts_frame["phone"].dropna().str.contains("[０-９]").any()


def test_demo_data_has_international_phone_formats(contacts_frame):
    phones = contacts_frame["phone"].dropna()
    assert phones.str.startswith("+").any() and phones.str.startswith("00").any()


def test_demo_data_covers_all_phone_countries(hashed, contacts_frame):
    regions = set(contacts_frame["phone_country"].dropna().str.strip().str.upper())
    assert {"US", "CA", "GB", "DE", "FR", "BR", "IN", "JP", "AU"} <= regions


def test_demo_data_shares_identifiers_across_contacts(hashed):
    per_hash = hashed.members.groupby(["id_type", "id_hash"])["contact_id"].nunique()
    assert (per_hash.loc["email"] > 1).any()
    assert (per_hash.loc["phone"] > 1).any()


# ----------------------------------------------------------------- PostgreSQL


@pytest.fixture
def postgres_scratch() -> Iterator[sa.Engine]:
    """A fresh database on the test PostgreSQL; skips when none is reachable.

    Uses the same server as the integration tests (``scripts/start-postgres.sh``,
    or ``TIKTOK_TEST_POSTGRES_URL``) but must not fail a plain unit-test run.
    """
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        admin.dispose()
        pytest.skip("no PostgreSQL reachable (run scripts/start-postgres.sh)")
    name = f"tiktok_demo_test_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(admin.url.set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_postgresql_build_matches_sqlite(engine, postgres_scratch):
    build_demo_database(postgres_scratch, contacts=CONTACTS, seed=SEED)
    query = sa.text("SELECT * FROM contacts ORDER BY contact_id")
    with postgres_scratch.connect() as pg_conn, engine.connect() as lite_conn:
        pg_rows = pd.read_sql(query, pg_conn)
        lite_rows = pd.read_sql(query, lite_conn, parse_dates=["updated_at"])
        for _, criteria in CRITERIA:
            count = sa.text(f"SELECT count(*) FROM contacts WHERE ({criteria})")
            assert pg_conn.execute(count).scalar_one() == lite_conn.execute(count).scalar_one() > 0
    pd.testing.assert_frame_equal(pg_rows, lite_rows, check_dtype=False)
    assert all_rows(postgres_scratch, "segment_members", "segment_id, contact_id") == all_rows(
        engine, "segment_members", "segment_id, contact_id"
    )


# --------------------------------------------------------------------- the whole demo


@pytest.mark.integration
def test_demo_creates_a_lookalike_of_the_vip_customers_on_the_sandbox(tmp_path):
    """``tiktok-audiences demo`` end to end (own process, own AIRFLOW_HOME): VIP customers gets its lookalike."""
    import subprocess
    import sys

    from tiktok_audiences.metadata import AudienceStore
    from tiktok_audiences.metadata.engines import sqlite_engine as meta_sqlite

    project = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TIKTOK_"))}
    result = subprocess.run(
        [sys.executable, "-m", "tiktok_audiences.cli", "demo", "--home", str(tmp_path / "demo")],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lookalike = AudienceStore(meta_sqlite(str(tmp_path / "demo" / "tiktok_audiences_meta.db"))).get_lookalike(
        "vip_customers"
    )
    assert lookalike["tiktok_audience_id"] and lookalike["status"] in ("Initiating", "Active")
    # What the sandbox (TikTok) held when the demo ended: this lookalike, under its name and id.
    assert f"including lookalike VIP customers (lookalike) ({lookalike['tiktok_audience_id']})" in result.stdout
    assert "  lookalike: VIP customers (lookalike)" in result.stdout  # in the printed table, under VIP customers
