"""Fixtures for tests that run the real DAGs: PostgreSQL contact databases, the sandbox, Airflow."""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

PROJECT_DIR = Path(__file__).resolve().parent.parent
POSTGRES_URL_ENV = "TIKTOK_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg2://tiktok:tiktok@127.0.0.1:5432/postgres"
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    """Engine on the maintenance database of the test PostgreSQL (``make test`` starts it)."""
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as err:
        pytest.fail(
            f"PostgreSQL is not reachable at {engine.url.render_as_string(hide_password=True)}: "
            f"{str(err.orig).strip().splitlines()[0]}. Start it with scripts/start-postgres.sh "
            f"(or set {POSTGRES_URL_ENV})."
        )
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_database(postgres_admin: sa.Engine) -> Iterator[sa.Engine]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"tiktok_test_{os.getpid()}_{next(_database_numbers)}"
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(postgres_admin.url.set(database=name))
    yield engine
    engine.dispose()
    _drop_database(postgres_admin, name)


def _drop_database(admin: sa.Engine, name: str, attempts: int = 10) -> None:
    """Drop a test database, retrying while PostgreSQL refuses to end a backend still attached to it.

    ``WITH (FORCE)`` terminates the other sessions, but a backend our role may not signal (an
    autovacuum worker, or a session still closing) makes the drop fail with InsufficientPrivilege
    for a moment; waiting briefly and retrying is what the server expects.
    """
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except sa.exc.DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


@dataclass
class Sandbox:
    """The running sandbox plus helpers to read TikTok's side of the truth."""

    url: str
    server: object

    def control(self, method: str, path: str, **kwargs) -> dict:
        response = requests.request(method, f"{self.url}/_sandbox/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else {}

    def members(self, audience_id: str) -> set[tuple[str, str]]:
        """TikTok's real member set of an audience as ``(id_type, id_hash)`` with our type names."""
        by_type = self.control("GET", f"audiences/{audience_id}/members")["members"]
        names = {"EMAIL_SHA256": "email", "PHONE_SHA256": "phone", "MAID_SHA256": "maid",
                 "FIRST_SHA256": "maid", "IDFA_SHA256": "maid", "GAID_SHA256": "maid"}
        return {(names[t], h) for t, hashes in by_type.items() for h in hashes}

    def audiences(self) -> list[dict]:
        return self.control("GET", "audiences")

    def fault(self, **fault) -> None:
        self.control("POST", "faults", json=fault)


@pytest.fixture(scope="session")
def sandbox_server():
    from tiktok_sandbox.config import SandboxConfig
    from tiktok_sandbox.server import SandboxServer

    server = SandboxServer(SandboxConfig(processing_seconds=0.0, qps_limit=1000))
    url = server.start()
    yield Sandbox(url=url, server=server)
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox, reset to an empty TikTok for each test."""
    sandbox_server.control("POST", "reset")
    sandbox_server.control("POST", "config", json={"processing_seconds": 0.0, "qps_limit": 1000})
    return sandbox_server


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database (SQLite in the temporary AIRFLOW_HOME), migrated once."""
    from airflow.utils.db import initdb

    initdb()


@dataclass
class AudienceEnv:
    """Everything one integration test needs to run an audience DAG end to end."""

    audiences_dir: Path
    contacts: sa.Engine
    meta_url: str
    sandbox: Sandbox

    def write_audience(self, key: str, **definition) -> None:
        import yaml

        (self.audiences_dir / f"{key}.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))

    def dag(self, key: str):
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
        assert not bag.import_errors, bag.import_errors
        return bag.dags[f"tiktok_audience__{key}"]

    def run(self, key: str, **conf):
        """Run the audience's DAG with dag.test(); returns the DagRun."""
        dag = self.dag(key)
        return dag.test(run_conf=conf or None, logical_date=None)

    def store(self):
        from tiktok_audiences.metadata import AudienceStore

        return AudienceStore(sa.create_engine(self.meta_url))

    def audience_row(self, key: str) -> dict:
        row = self.store().get_audience(key)
        assert row is not None, f"audience {key} was never recorded"
        return row


@pytest.fixture
def audience_env(tmp_path, monkeypatch, postgres_database, sandbox, airflow_db) -> AudienceEnv:
    """Connections and folders for one test: PostgreSQL contacts, SQLite metadata, the sandbox."""
    from tiktok_sandbox.config import SandboxConfig

    config = SandboxConfig()
    audiences = tmp_path / "audiences"
    audiences.mkdir()
    meta_path = tmp_path / "meta.db"
    contacts_url = postgres_database.url
    monkeypatch.setenv("TIKTOK_AUDIENCES_DIR", str(audiences))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONTACTS_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": contacts_url.host,
                "port": contacts_url.port,
                "login": contacts_url.username,
                "password": contacts_url.password,
                "schema": contacts_url.database,
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_TIKTOK_AUDIENCES_META", json.dumps({"conn_type": "sqlite", "host": str(meta_path)})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_TIKTOK_DEFAULT",
        json.dumps(
            {
                "conn_type": "tiktok_ads",
                "host": sandbox.url,
                "password": config.access_token,
                "extra": {"advertiser_id": config.advertiser_ids[0], "app_id": config.app_id},
            }
        ),
    )
    return AudienceEnv(audiences, postgres_database, f"sqlite:///{meta_path}", sandbox)


def unique_name(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"
