"""Shared fixtures: a throw-away AIRFLOW_HOME, a real PostgreSQL, and the TikTok sandbox over HTTP.

Airflow reads its configuration when first imported, so the environment is set here, at import
time of the test session, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="tiktok-audiences-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "TIKTOK_AUDIENCES_STAGING_URL": f"file://{_AIRFLOW_HOME / 'staging'}",
        # No task retries in tests: a failure must show at once, not be hidden by a passing retry.
        "TIKTOK_AUDIENCES_TASK_RETRIES": "0",
    }
)
os.environ.pop("TIKTOK_AUDIENCES_DIR", None)

import pytest  # noqa: E402

pytest_plugins = ["tests.fixtures"]
