"""Fixtures for the TikTok Audiences page: Airflow's own API app, users of each role, seeded metadata."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

ORIGIN = "http://testserver"


@pytest.fixture(scope="session")
def api_app(airflow_db):
    """Airflow's API server app, built by Airflow's own factory, with our plugin mounted."""
    from airflow.api_fastapi.app import create_app
    from airflow.configuration import conf

    # Airflow refuses to sign tokens without a secret outside its own dev defaults.
    conf.set("api_auth", "jwt_secret", secrets.token_urlsafe(48))
    return create_app()


@pytest.fixture
def client(api_app):
    from fastapi.testclient import TestClient

    with TestClient(api_app) as client:
        yield client


def token_for(role: str, username: str | None = None) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username or role, role=role))


def as_user(client, role: str, username: str | None = None):
    """Authenticate like the browser does: Airflow's ``_token`` cookie (so CSRF rules apply)."""
    client.cookies.set("_token", token_for(role, username))
    return client


@dataclass
class Seeded:
    store: object
    keys: dict[str, str]


DEFINITIONS = {
    "vip": {"name": "VIP customers", "include_segments": [4], "exclude_segments": [5, 6],
            "lookalike": {"name": "VIP <lookalike>", "location_ids": ["6252001"], "audience_size": "BALANCED",
                          "include_source": False, "mobile_os": "ALL", "placements": ["TikTok"]},
            "normalization": {"phone_format": "both", "email_dots": "gmail"}, "retention_in_days": 180,
            "audience_enhancement": True},
    "html": {"name": "<script>alert('x')</script> & <b>friends</b>", "include_segments": [1], "exclude_segments": []},
    "bad_a": {"name": "Broken A", "include_segments": [2], "exclude_segments": [], "integration": "tiktok_eu"},
    "bad_b": {"name": "Broken B", "include_segments": [3], "exclude_segments": [], "integration": "tiktok_eu"},
}


@pytest.fixture
def seeded(tmp_path, monkeypatch) -> Seeded:
    """A metadata database with four audiences: Active, Too Small (HTML name), two Failed of one integration."""
    import pandas as pd

    from tiktok_audiences.metadata import AudienceStore, utcnow
    from tiktok_audiences.metadata.engines import sqlite_engine

    path = tmp_path / "meta.db"
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_AUDIENCES_META", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    store = AudienceStore(sqlite_engine(str(path)))
    store.migrate()
    now = utcnow()
    for key, extra in DEFINITIONS.items():
        definition = {
            "key": key, "path": f"/srv/project/include/audiences/{key}.yaml", "integration": "tiktok_default",
            "identifiers": ["email", "phone"], "schedule": "@daily", "description": None, **extra,
        }
        store.register_audience(definition, f"tiktok_audience__{key}", initial_status="Pending")
    store.update_audience("vip", status="Active", size=3887, cover_num=2616, match_rate=2616 / 3887,
                          tiktok_audience_id="900001", last_sync_at=now - timedelta(hours=3), is_valid=True)
    store.update_audience("html", status="Too Small", size=580, status_message="580 contacts; <i>too few</i>")
    store.register_lookalike("vip", "VIP <lookalike>", initial_status="Waiting for Source")
    store.update_lookalike("vip", tiktok_audience_id="900002", status="Active", cover_num=52320, is_valid=True,
                           spec={"audience_size": "BALANCED", "location_ids": ["6252001"]},
                           built_at=now - timedelta(hours=5), status_message="created <b>today</b>")
    store.register_lookalike("html", "Orphan lookalike", initial_status="Waiting for Source")
    for key in ("bad_a", "bad_b"):
        store.update_audience(key, status="Failed", status_message="re-authenticate the integration 'tiktok_eu'")
    for i, (size, rate) in enumerate([(3500, 0.61), (3700, 0.64), (3887, 0.673)]):
        run_id = f"scheduled__{i}"
        store.start_run("vip", run_id)
        store.finish_run("vip", run_id, outcome="success", size=size, added=size if i == 0 else 200, removed=3 * i,
                         match_rate=rate, invalid={"email_malformed": 12 + i, "phone_no_region": 0})
    store.save_segment_snapshot(
        "vip",
        [{"segment_id": 4, "name": "VIP <loyalty>", "criteria": None}, {"segment_id": 5, "name": "Unsubscribed"}],
        pd.DataFrame({"segment_id": [], "contact_id": []}),
    )
    return Seeded(store=store, keys={k: f"tiktok_audience__{k}" for k in DEFINITIONS})


@pytest.fixture
def oauth_env(monkeypatch, sandbox):
    """Point the integration lifecycle at the sandbox: consent page, token endpoint, app secret."""
    from tiktok_sandbox.config import SandboxConfig

    config = SandboxConfig()
    monkeypatch.setenv("TIKTOK_AUDIENCES_AUTH_URL", f"{sandbox.url}/portal/auth")
    monkeypatch.setenv("TIKTOK_AUDIENCES_API_URL", sandbox.url)
    monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_APP_SECRET", config.app_secret)
    return config


def db_connection(conn_id: str):
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.scalar(sa.select(Connection).where(Connection.conn_id == conn_id))
        if conn is None:
            return None
        return {"conn_type": conn.conn_type, "host": conn.host, "password": conn.password, "extra": conn.extra_dejson}


def remove_db_connection(conn_id: str) -> None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(sa.delete(Connection).where(Connection.conn_id == conn_id))
