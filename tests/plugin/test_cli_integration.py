"""``tiktok-audiences integration``: the headless set-up against the sandbox's consent page."""

from __future__ import annotations

import json
import re

from tests.plugin.conftest import db_connection, remove_db_connection
from tests.plugin.test_page_api import consent
from tiktok_audiences.cli import main


def test_headless_setup_then_delete(airflow_db, oauth_env, sandbox, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_AUDIENCES_META",
                       json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "meta.db")}))
    conn_id = "tiktok_headless"
    remove_db_connection(conn_id)
    redirect = "http://localhost:8080/tiktok-audiences/integrations/callback"

    def paste(prompt: str) -> str:
        # The person opens the printed URL, consents, and pastes the address they land on.
        url = re.search(r"^  (http\S+)$", capsys.readouterr().out, re.M).group(1)
        return consent(sandbox.url, url, ["7200000000000000002"]).headers["location"]

    monkeypatch.setattr("builtins.input", paste)
    assert main(["integration", "setup", "--conn-id", conn_id, "--app-id", oauth_env.app_id,
                 "--redirect-uri", redirect]) == 0
    out = capsys.readouterr().out
    assert f"Integration {conn_id} set up for ad account 7200000000000000002" in out
    saved = db_connection(conn_id)
    assert saved["extra"]["advertiser_id"] == "7200000000000000002" and saved["password"] not in out

    assert main(["integration", "delete", "--conn-id", conn_id, "--yes"]) == 0
    assert db_connection(conn_id) is None


def test_pasted_address_of_another_flow_is_refused(airflow_db, oauth_env, sandbox, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_AUDIENCES_META",
                       json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "meta.db")}))
    code = main(["integration", "setup", "--conn-id", "tiktok_x", "--app-id", oauth_env.app_id,
                 "--redirect-uri", "http://localhost/cb", "--auth-code", "http://localhost/cb?auth_code=a&state=other"])
    assert code == 1 and "another authorization" in capsys.readouterr().err
