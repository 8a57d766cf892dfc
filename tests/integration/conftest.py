"""The ``api`` fixture: core sync tests run once per way of sending an audience to TikTok."""

from __future__ import annotations

import json
import os

import pytest

APIS = ("customer_file", "partner")


def set_integration_api(monkeypatch, api: str) -> None:
    """Set the integration's extra ``api`` (how its audiences are sent unless their file says otherwise)."""
    connection = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    connection["extra"]["api"] = api
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(connection))


@pytest.fixture(params=APIS)
def api(request, audience_env, monkeypatch) -> str:
    """Each test taking this fixture runs with the integration set to customer_file, then to partner."""
    set_integration_api(monkeypatch, request.param)
    return request.param
