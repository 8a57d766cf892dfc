"""TikTok refusals end to end: permanent errors fail once, transient ones are retried (issue 15).

Real DAG runs (dag.test) against the sandbox, with the DAG's task retries switched on again
(tests/conftest.py turns them off for every other test).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest

from tests.integration.contacts import expected_identifiers
from tests.integration.test_sync import assert_success, contacts, define, tiktok_members  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

UPDATE = "dmp/custom_audience/update/"
UPLOAD = "dmp/custom_audience/file/upload/"


def requests_to(audience_env, path: str) -> list[dict]:
    return [r for r in audience_env.sandbox.control("GET", "requests") if path in r["path"]]


@pytest.fixture
def with_task_retries(monkeypatch, audience_env):
    """The DAG's production task retries (2), without the 30 s wait, and a quick hook backoff."""
    monkeypatch.setenv("TIKTOK_AUDIENCES_TASK_RETRIES", "2")
    connection = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    connection["extra"]["retry_backoff_seconds"] = 0.01
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(connection))

    def run(key: str = "buyers"):
        dag = audience_env.dag(key)
        for task in dag.tasks:
            assert task.retries == 2
            task.retry_delay = timedelta(0)
            task.retry_exponential_backoff = False
        return dag.test(logical_date=None)

    return run


def sync_tries(dag_run) -> list[int]:
    return [ti.try_number for ti in dag_run.get_task_instances() if ti.task_id == "sync_to_tiktok"]


def run_removal_with_update_fault(audience_env, contacts, run, **fault):  # noqa: F811
    """Sync, unsubscribe contacts 1–10, then run again while TikTok answers the update with ``fault``."""
    define(audience_env)
    assert_success(run())
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 10")
    audience_env.sandbox.fault(path=UPDATE, **fault)
    audience_env.sandbox.control("DELETE", "requests")
    return run()


def test_permanent_parameter_error_fails_once_naming_tiktok_code(audience_env, contacts, with_task_retries):  # noqa: F811
    # A 40002 that is a plain parameter error (not TikTok's "being updated" refusal): the same request
    # gets the same answer, so a retry would only upload the file again.
    dag_run = run_removal_with_update_fault(audience_env, contacts, with_task_retries, code=40002,
                                            message="Parameter error: file_paths is invalid", times=5)
    assert dag_run.state == "failed"
    assert sync_tries(dag_run) == [1]
    assert len(requests_to(audience_env, UPDATE)) == 1
    assert len(requests_to(audience_env, UPLOAD)) == 1
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Failed"
    assert ("TikTok error 40002" in row["status_message"]
            and "Parameter error: file_paths is invalid" in row["status_message"])
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401))  # nothing changed on TikTok


def test_transient_error_is_retried_by_the_task_and_converges(audience_env, contacts, with_task_retries):  # noqa: F811
    # 50000 on every one of the hook's 6 attempts: the first try fails, Airflow's retry succeeds.
    dag_run = run_removal_with_update_fault(audience_env, contacts, with_task_retries, code=50000,
                                            message="System error", times=6)
    assert_success(dag_run)
    assert sync_tries(dag_run) == [2]
    assert tiktok_members(audience_env) == expected_identifiers(range(11, 1401))


def confirmed_identifiers(audience_env, key: str = "buyers") -> set[tuple[str, str]]:
    frame = audience_env.store().load_confirmed(key)
    return set(zip(frame["id_type"], frame["id_hash"], strict=True))


@pytest.fixture
def short_busy_wait(monkeypatch, audience_env):
    connection = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    connection["extra"].update({"busy_wait_seconds": 0.05, "retry_backoff_seconds": 0.01})
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(connection))


def test_busy_audience_stops_the_run_as_syncing_and_the_next_run_sends_the_rest(
    audience_env, contacts, short_busy_wait, monkeypatch  # noqa: F811
):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    monkeypatch.setenv("TIKTOK_AUDIENCES_BATCH_SIZE", "20")  # several REMOVE batches
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 30")
    # TikTok now takes an hour to process a change: the first REMOVE is accepted, the next is refused
    # "being updated or under processing" until the hook's (short) wait runs out.
    audience_env.sandbox.control("POST", "config", json={"processing_seconds": 3600})
    audience_env.sandbox.control("DELETE", "requests")
    dag_run = audience_env.run("buyers")
    assert_success(dag_run)  # not a failure: nothing is wrong, TikTok is busy
    assert sync_tries(dag_run) == [1]
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Syncing"
    assert "TikTok was still processing an earlier change" in row["status_message"]
    assert "the next run sends the rest" in row["status_message"] and "under processing" in row["status_message"]
    assert "0 identifier(s) added and 20 removed are confirmed" in row["status_message"]
    codes = [r["code"] for r in requests_to(audience_env, UPDATE)]
    assert codes[0] == 0 and set(codes[1:]) == {40002}
    # What TikTok accepted is confirmed; the refused batch stays journaled as unconfirmed (a refusal
    # after a retried attempt does not prove the attempt was not applied), so nothing is lost.
    on_tiktok = tiktok_members(audience_env)
    assert len(expected_identifiers(range(1, 1401)) - on_tiktok) == 20
    confirmed = confirmed_identifiers(audience_env)
    unconfirmed = set(audience_env.store().load_unconfirmed_identifiers("buyers").to_frame()
                      .itertuples(index=False, name=None))
    assert confirmed <= on_tiktok <= confirmed | unconfirmed and len(on_tiktok - confirmed) == 20
    [run] = [r for r in audience_env.store().run_history("buyers") if r["run_id"] == dag_run.run_id]
    assert run["outcome"] == "partial" and run["removed"] == 20

    audience_env.sandbox.control("POST", f"audiences/{row['tiktok_audience_id']}/finish_processing")
    audience_env.sandbox.control("POST", "config", json={"processing_seconds": 0})
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(31, 1401))
    assert audience_env.audience_row("buyers")["status"] == "Active"


def test_append_then_remove_wait_out_processing_in_one_run(audience_env, contacts, monkeypatch):  # noqa: F811
    # TikTok refuses an update while the previous one is processed: a short processing time is
    # waited out between the batches (the default busy wait), and the run completes.
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    connection = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    connection["extra"]["retry_backoff_seconds"] = 0.1
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("TIKTOK_AUDIENCES_BATCH_SIZE", "20")
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 20")
    contacts.execute("UPDATE contacts SET email = 'new' || contact_id || '@example.org' WHERE contact_id = 500")
    audience_env.sandbox.control("POST", "config", json={"processing_seconds": 0.5})
    audience_env.sandbox.control("DELETE", "requests")
    assert_success(audience_env.run("buyers"))
    row = audience_env.audience_row("buyers")
    assert row["status"] in ("Active", "Initiating") and "processing" not in (row["status_message"] or "")
    codes = [r["code"] for r in requests_to(audience_env, UPDATE)]
    assert 40002 in codes  # TikTok did refuse while processing …
    assert confirmed_identifiers(audience_env) == tiktok_members(audience_env)  # … and everything got through
    assert len(tiktok_members(audience_env) & expected_identifiers(range(1, 21))) == 0


def test_audience_created_with_too_few_matches_is_too_small_until_a_full_resync_recreates_it(
    audience_env, contacts  # noqa: F811
):
    audience_env.sandbox.control("POST", "config", json={"match_rate": 0.1})  # ~10% of identifiers on TikTok
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    old_id = audience_env.audience_row("buyers")["tiktok_audience_id"]
    # TikTok matched 1-999 users and keeps it invalid: Too Small already (the minimum counts matched users).
    assert audience_env.audience_row("buyers")["status"] == "Too Small"
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 10")
    audience_env.sandbox.control("DELETE", "requests")
    dag_run = audience_env.run("buyers")
    assert_success(dag_run)
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Too Small"
    assert f"TikTok refuses updates of audience {old_id}" in row["status_message"]
    assert "less than 1000 matches were found" in row["status_message"] and "full_resync" in row["status_message"]
    assert len(requests_to(audience_env, UPDATE)) == 1  # no retries
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401))  # unchanged on TikTok

    audience_env.sandbox.control("POST", "config", json={"match_rate": 1.0, "replace_cooldown_seconds": 0})
    audience_env.sandbox.control("DELETE", "requests")
    assert_success(audience_env.run("buyers", full_resync=True))
    row = audience_env.audience_row("buyers")
    assert row["tiktok_audience_id"] not in (None, old_id)
    assert (
        f"so the full resync created TikTok audience {row['tiktok_audience_id']} in its place" in row["status_message"]
    )
    assert row["status"] == "Active"
    assert tiktok_members(audience_env) == expected_identifiers(range(11, 1401))
    assert len(requests_to(audience_env, UPLOAD)) == 1  # the REPLACE's file became the new audience
    assert [a["deleted"] for a in audience_env.sandbox.audiences() if a["audience_id"] == old_id] == [False]
