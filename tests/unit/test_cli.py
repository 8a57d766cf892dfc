"""The tiktok-audiences command: load-settings and the audiences table."""

from __future__ import annotations

from datetime import datetime, timedelta

from tiktok_audiences.cli import main
from tiktok_audiences.cli.table import format_table
from tiktok_audiences.reporting import elapsed


def test_load_settings_creates_connections_and_pools(airflow_db, tmp_path, monkeypatch):
    from airflow.models import Connection, Pool
    from airflow.utils.session import create_session

    monkeypatch.setenv("PROJECT_DIR", "/srv/project")
    settings = tmp_path / "airflow_settings.yaml"
    settings.write_text(
        "airflow:\n  connections:\n    - conn_id: contacts_db_test\n      conn_type: sqlite\n"
        "      conn_host: ${PROJECT_DIR}/contacts.db\n"
        "  pools:\n    - pool_name: tiktok_test_api\n      pool_slot: 3\n      pool_description: test\n"
    )
    assert main(["load-settings", str(settings)]) == 0
    with create_session() as session:
        conn = session.query(Connection).filter(Connection.conn_id == "contacts_db_test").one()
        assert conn.host == "/srv/project/contacts.db"
        assert session.query(Pool).filter(Pool.pool == "tiktok_test_api").one().slots == 3


def test_elapsed_reads_like_the_brief():
    now = datetime(2026, 11, 25, 12, 0, 0)
    assert elapsed(now - timedelta(seconds=20), now) == "just now"
    assert elapsed(now - timedelta(hours=3, minutes=5), now) == "3 hours ago"
    assert elapsed(now - timedelta(days=1), now) == "1 day ago"


def test_table_shows_name_match_size_status_last_sync():
    rows = [{"name": "VIP", "match": 61.5, "size": 3887, "status": "Active", "last_sync": "2026-11-25T11:00:00Z",
             "message": None}]
    table = format_table(rows, now=datetime(2026, 11, 25, 12, 0, 0))
    header, _, line = table.splitlines()
    assert header.split() == ["Name", "Match", "Size", "Status", "Last", "Sync"]
    assert line.split() == ["VIP", "61.5%", "3,887", "Active", "1", "hour", "ago"]


def test_table_shows_a_lookalike_under_its_audience():
    rows = [{"name": "VIP", "match": 61.5, "size": 3887, "status": "Active", "last_sync": "2026-11-25T11:00:00Z",
             "message": None,
             "lookalike": {"name": "VIP (lookalike)", "tiktok_audience_id": "7", "size": 52320, "status": "Active",
                           "built": "2026-11-25T09:00:00Z", "message": "created"}}]
    table = format_table(rows, now=datetime(2026, 11, 25, 12, 0, 0))
    lines = table.splitlines()
    assert lines[3].split() == ["lookalike:", "VIP", "(lookalike)", "-", "52,320", "Active", "3", "hours", "ago"]
    assert "  VIP (lookalike): created" in lines


def test_demo_commands_name_the_fix_when_the_sandbox_distribution_is_missing(tmp_path, monkeypatch):
    """The runtime provider ships no sandbox: without it, demo and demo-db say how to install it."""
    import sys

    import pytest

    monkeypatch.setitem(sys.modules, "tiktok_sandbox", None)  # as if tiktok-audience-sync-sandbox were absent
    for argv in (["demo-db", "--url", f"sqlite:///{tmp_path / 'contacts.db'}"], ["demo", "--home", str(tmp_path)]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert "pip install ./sandbox" in str(stopped.value.code)
    assert not (tmp_path / "contacts.db").exists()
