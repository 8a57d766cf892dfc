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


def unexpected_contract_violations(before: dict[int, int]) -> list[str]:
    """Violations that sandboxes recorded since ``before`` (id(state) -> history length), as messages."""
    from tiktok_sandbox.state import LIVE_STATES

    found: list[str] = []
    for state in list(LIVE_STATES):
        for violation in state.contract_violation_history()[before.get(id(state), 0) :]:
            found.append(f"{violation.endpoint} {violation.message()}")
    return found


@pytest.fixture(autouse=True)
def _tiktok_contract_check(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Fail a test whose requests broke TikTok's contract on any sandbox, unless it says it meant to."""
    from tiktok_sandbox.state import LIVE_STATES

    before = {id(state): len(state.contract_violation_history()) for state in list(LIVE_STATES)}
    yield
    if request.node.get_closest_marker("contract_violations_expected"):
        return
    found = unexpected_contract_violations(before)
    if found:
        pytest.fail("requests broke TikTok's API contract:\n" + "\n".join(found), pytrace=False)
