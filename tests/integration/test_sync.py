"""The real audience DAGs, run with dag.test() against PostgreSQL contacts and the TikTok sandbox.

Each test asserts what a user cares about: the member set TikTok holds equals the expected hashed
set, and the status the audiences table shows. Tests taking the ``api`` fixture run twice: with the
integration sending customer files, and with it using the partner (Audience Segment) API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.contacts import (
    ContactDatabase,
    email,
    expected_identifiers,
    maid,
    phone,
    reference_contacts,
    sha,
)

pytestmark = pytest.mark.integration

ALL = range(1, 1501)


@pytest.fixture
def contacts(audience_env) -> ContactDatabase:
    """The reference contacts, and segment 4 = static 1..50."""
    db = reference_contacts(audience_env.contacts)
    db.add_segment(4, "Small static", members=range(1, 51))
    return db


def define(audience_env, key="buyers", **overrides):
    definition = {"name": "Buyers", "include_segments": [1, 2], "exclude_segments": [3]}
    definition.update(overrides)
    audience_env.write_audience(key, **definition)


def tiktok_members(audience_env, key="buyers") -> set[tuple[str, str]]:
    row = audience_env.audience_row(key)
    assert row["tiktok_audience_id"], (
        f"audience {key} has no TikTok id (status {row['status']}: {row['status_message']})"
    )
    return audience_env.sandbox.members(row["tiktok_audience_id"])


def assert_success(run) -> None:
    assert run.state == "success", f"DAG run ended {run.state}"


def test_first_sync_sends_exactly_include_minus_exclude(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401))
    row = audience_env.audience_row("buyers")
    [audience] = audience_env.sandbox.audiences()
    assert audience["audience_type"] == {"customer_file": "Customer File Audience", "partner": "Partner"}[api]
    assert row["api"] == api
    assert row["size"] == 1400
    assert row["status"] == "Active"  # the test sandbox processes instantly
    assert row["last_sync_at"] is not None
    assert 0 < row["match_rate"] <= 1.5


def test_match_is_the_share_of_contacts_tiktok_knows(audience_env, api, contacts):
    """With TikTok's users known (one per contact), Match = cover_num / Size counts each person once."""
    rate = 0.8  # enough matched users (1,000) for TikTok to make the audience valid, so Match shows
    users = [[sha(email(i)), sha(phone(i)) if i % 2 == 0 else None, sha(phone(i)[1:]) if i % 2 == 0 else None,
              sha(maid(i)) if i % 3 == 0 else None] for i in ALL]
    audience_env.sandbox.control("POST", "population", json={
        "id_schema": ["email", "phone_e164", "phone_digits", "maid"], "users": users})
    audience_env.sandbox.control("POST", "config", json={"match_rate": rate})
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    row = audience_env.audience_row("buyers")

    def on_tiktok(user: list[str | None]) -> bool:  # docs/sandbox.md: the draw of the smallest hash
        return int(sha(min(h for h in user if h))[:8], 16) / 2**32 < rate

    found = sum(on_tiktok(users[i - 1]) for i in range(1, 1401))
    assert row["size"] == 1400
    assert row["match_rate"] == found / 1400
    assert 0.7 < row["match_rate"] <= 1


def test_contacts_moving_in_and_out_are_mirrored(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.remove_members(2, range(1301, 1401))  # leave the static segment
    contacts.add_members(2, range(1401, 1421))  # unsubscribed: excluded even though included
    contacts.execute("UPDATE segments SET criteria = 'contact_id <= 1100 OR contact_id = 1450' WHERE segment_id = 1")
    contacts.execute("UPDATE contacts SET subscription_status = 'subscribed' WHERE contact_id = 1450")
    assert_success(audience_env.run("buyers"))
    expected = expected_identifiers([*range(1, 1301), 1450])
    assert tiktok_members(audience_env) == expected
    history = audience_env.store().run_history("buyers")
    assert history[0]["removed"] > 0 and history[0]["added"] > 0


def test_identifier_edits_replace_the_old_hash(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("UPDATE contacts SET email = 'new-address@example.com' WHERE contact_id = 10")
    assert_success(audience_env.run("buyers"))
    from tests.integration.contacts import sha

    expected = (expected_identifiers(range(1, 1401)) - {("email", sha("user10@example.com"))}) | {
        ("email", sha("new-address@example.com"))
    }
    assert tiktok_members(audience_env) == expected


def test_growing_exclude_segment_removes_its_members(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id BETWEEN 1 AND 200")
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(201, 1401))
    assert audience_env.audience_row("buyers")["size"] == 1200


def test_deleted_static_segment_keeps_its_last_members(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("DELETE FROM segment_members WHERE segment_id = 2")
    contacts.execute("DELETE FROM segments WHERE segment_id = 2")
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401))
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Deleted Segment"
    assert "deleted segment(s) 2" in row["status_message"]


def test_deleted_criteria_segment_keeps_syncing_its_criteria(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("UPDATE segments SET deleted_at = CURRENT_TIMESTAMP WHERE segment_id = 1")
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 100")
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(101, 1401))
    assert audience_env.audience_row("buyers")["status"] == "Deleted Segment"


def test_audience_below_1000_contacts_is_too_small_and_nothing_is_sent(audience_env, api, contacts):
    define(audience_env, key="small", name="Small", include_segments=[4], exclude_segments=[])
    assert_success(audience_env.run("small"))
    row = audience_env.audience_row("small")
    assert row["status"] == "Too Small"
    assert row["tiktok_audience_id"] is None
    assert "nothing was sent" in row["status_message"]
    assert audience_env.sandbox.audiences() == []


def test_shrinking_below_1000_is_stopped_by_the_guard_until_overridden(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    before = tiktok_members(audience_env)
    # 29% fewer contacts: under the share limit, but below TikTok's minimum.
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 401")
    assert audience_env.run("buyers").state == "failed"
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Failed" and "from 1,400 to 999 contacts" in row["status_message"]
    assert tiktok_members(audience_env) == before
    assert_success(audience_env.run("buyers", allow_large_removal=True))
    assert tiktok_members(audience_env) == before  # TikTok would refuse the update: nothing is sent
    assert audience_env.audience_row("buyers")["status"] == "Too Small"


def test_removing_more_than_30_percent_is_stopped_until_overridden(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    before = tiktok_members(audience_env)
    contacts.execute("DELETE FROM segment_members WHERE segment_id = 2")  # an upstream bug empties a segment
    contacts.execute("UPDATE segments SET criteria = 'contact_id <= 700' WHERE segment_id = 1")
    contacts.add_contacts(range(2001, 2401))
    contacts.add_members(2, range(2001, 2401))
    assert audience_env.run("buyers").state == "failed"
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Failed" and "more than the 30% limit" in row["status_message"]
    assert "allow_large_removal=true" in row["status_message"]
    assert tiktok_members(audience_env) == before
    assert_success(audience_env.run("buyers", allow_large_removal=True))
    assert tiktok_members(audience_env) == expected_identifiers([*range(1, 701), *range(2001, 2401)])


def test_dry_run_reports_the_plan_and_sends_nothing(audience_env, api, contacts):
    define(audience_env)
    run = audience_env.run("buyers", dry_run=True)
    assert_success(run)
    assert audience_env.sandbox.audiences() == []
    [history] = audience_env.store().run_history("buyers")
    assert history["outcome"] == "dry_run" and history["added"] == len(expected_identifiers(range(1, 1401)))


def test_full_resync_replaces_the_whole_audience(audience_env, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    audience_id = audience_env.audience_row("buyers")["tiktok_audience_id"]
    audience_env.sandbox.control("POST", "config", json={"replace_cooldown_seconds": 0})
    assert_success(audience_env.run("buyers", full_resync=True))
    assert audience_env.audience_row("buyers")["tiktok_audience_id"] == audience_id
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401))


def test_rerun_with_no_changes_sends_no_identifiers(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    audience_env.sandbox.control("DELETE", "requests")
    assert_success(audience_env.run("buyers"))
    writes = [r for r in audience_env.sandbox.control("GET", "requests")
              if any(w in r["path"] for w in ("upload", "update", "segment/"))]
    assert writes == []
    assert audience_env.store().run_history("buyers")[0]["added"] == 0


@pytest.mark.parametrize("answer", ["absent", "invalid_id_error"])
def test_audience_deleted_on_tiktok_is_recreated(audience_env, api, contacts, answer):
    # get of an unknown id: absent from list, or 40002 "Parameter error: invalid audience ID" (docs/sandbox.md).
    audience_env.sandbox.control("POST", "config", json={"unknown_audience_get": answer})
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    old_id = audience_env.audience_row("buyers")["tiktok_audience_id"]
    delete_on_tiktok(audience_env, old_id, api)
    assert_success(audience_env.run("buyers"))
    row = audience_env.audience_row("buyers")
    assert row["tiktok_audience_id"] not in (None, old_id)
    assert f"TikTok audience {old_id} no longer exists on TikTok" in row["status_message"]
    assert "recreated" in row["status_message"]
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401))


def delete_on_tiktok(audience_env, audience_id: str, api: str = "customer_file", *, gone_ok: bool = False) -> None:
    """Delete the audience on TikTok's side (as a user would in Ads Manager), with the API that made it.

    :param gone_ok: also accept TikTok's 40007 (the audience no longer exists)
    """
    import requests

    from tiktok_sandbox.config import SandboxConfig

    config = SandboxConfig()
    advertiser_id = config.advertiser_ids[0]
    path, body = (("segment/audience/", {"advertiser_id": advertiser_id, "action": "delete",
                                         "delete_audience_id": audience_id}) if api == "partner" else
                  ("dmp/custom_audience/delete/", {"advertiser_id": advertiser_id,
                                                   "custom_audience_ids": [audience_id]}))
    answer = requests.post(f"{audience_env.sandbox.url}/open_api/v1.3/{path}", json=body,
                           headers={"Access-Token": config.access_token}, timeout=10).json()
    assert answer["code"] in ((0, 40007) if gone_ok else (0,)), answer


def test_run_killed_between_upload_and_commit_converges_on_the_next_run(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 100")
    contacts.add_contacts(range(1501, 1601))
    contacts.add_members(2, range(1501, 1601))
    # A separate process runs the DAG and SIGKILLs itself right after TikTok accepted the APPEND,
    # before the confirmed set is written: the worst moment to die.
    script = Path(__file__).with_name("killed_run.py")
    result = subprocess.run([sys.executable, str(script), "buyers", "commit"], env=os.environ.copy(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stdout[-2000:] + result.stderr[-2000:]
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers([*range(101, 1401), *range(1501, 1601)])


def test_identifiers_a_killed_run_sent_are_removed_once_no_longer_wanted(audience_env, api, contacts):
    """TikTok accepted an APPEND whose acceptance was never recorded; then that address changed again."""
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("UPDATE contacts SET email = 'first-edit@example.com' WHERE contact_id = 10")
    script = Path(__file__).with_name("killed_run.py")
    result = subprocess.run([sys.executable, str(script), "buyers", "commit"], env=os.environ.copy(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stdout[-2000:] + result.stderr[-2000:]
    assert ("email", sha("first-edit@example.com")) in tiktok_members(audience_env)  # TikTok has it, we never heard
    contacts.execute("UPDATE contacts SET email = 'second-edit@example.com' WHERE contact_id = 10")
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == (
        expected_identifiers(range(1, 1401)) - {("email", sha("user10@example.com"))}
        | {("email", sha("second-edit@example.com"))}
    )
    assert "never recorded TikTok's answer" in audience_env.audience_row("buyers")["status_message"]
    assert_success(audience_env.run("buyers"))
    assert audience_env.store().load_unconfirmed_identifiers("buyers").empty  # nothing left in doubt


def test_access_token_and_raw_identifiers_never_reach_the_logs(audience_env, api, contacts, capfd):
    from tests.integration.contacts import email, phone
    from tiktok_sandbox.config import SandboxConfig

    define(audience_env)
    assert_success(audience_env.run("buyers"))
    output = "".join(capfd.readouterr())
    assert "Created TikTok audience" in output  # the task logs were captured
    assert SandboxConfig().access_token not in output
    assert email(11) not in output and phone(12) not in output


def test_sqlite_contact_database_works_like_postgresql(audience_env, tmp_path, monkeypatch):
    import json

    import sqlalchemy as sa

    path = tmp_path / "contacts.db"
    db = ContactDatabase(sa.create_engine(f"sqlite:///{path}"))
    db.add_contacts(range(1, 1201))
    db.add_segment(1, "All", criteria="contact_id > 0")
    db.add_segment(2, "Static", members=range(1, 101))
    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    define(audience_env, include_segments=[1], exclude_segments=[2])
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(101, 1201))


def test_criteria_with_a_write_fails_with_a_clear_message_and_sends_nothing(audience_env, contacts):
    contacts.execute("UPDATE segments SET criteria = 'true; DELETE FROM contacts' WHERE segment_id = 1")
    define(audience_env)
    run = audience_env.run("buyers")
    assert run.state == "failed"
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Failed"
    assert "segment 1 ('First 1200')" in row["status_message"] and "Fix:" in row["status_message"]
    assert audience_env.sandbox.audiences() == []
    with contacts.engine.connect() as conn:
        import sqlalchemy as sa

        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar() == 1500


def test_revoked_token_marks_the_audience_failed_with_reauthenticate_hint(audience_env, api, contacts):
    from tiktok_sandbox.config import SandboxConfig

    define(audience_env)
    assert_success(audience_env.run("buyers"))
    audience_env.sandbox.control("POST", f"tokens/{SandboxConfig().access_token}/revoke")
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 10")
    before = audience_env.store().load_confirmed("buyers")
    assert audience_env.run("buyers").state == "failed"
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Failed" and "re-authenticate the integration 'tiktok_default'" in row["status_message"]
    assert len(audience_env.store().load_confirmed("buyers")) == len(before)
    resync_integration(audience_env, "fresh-token-after-resync")
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(11, 1401))


def resync_integration(audience_env, token: str, scope=(3, 30, 31, 32)) -> None:
    """What "Resync integration" does: TikTok issues a new token, the connection stores it."""
    import json

    from tiktok_sandbox.config import SandboxConfig

    config = SandboxConfig()
    audience_env.sandbox.control("POST", "tokens", json={"token": token, "advertiser_ids": config.advertiser_ids,
                                                         "scope": list(scope)})
    connection = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    connection["password"] = token
    os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps(connection)


def test_expired_token_fails_without_retry_and_touches_no_state(audience_env, api, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 10")
    audience_env.sandbox.fault(path="*", code=40102, message="Access token has expired", times=1)
    audience_env.sandbox.control("DELETE", "requests")
    assert audience_env.run("buyers").state == "failed"
    assert len(audience_env.sandbox.control("GET", "requests")) == 1  # failed fast: no retry
    row = audience_env.audience_row("buyers")
    assert "40102" in row["status_message"] and "re-authenticate" in row["status_message"]
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401))


def test_missing_write_permission_names_the_scope(audience_env, contacts):
    define(audience_env)
    resync_integration(audience_env, "read-only-token", scope=(3, 30))
    assert audience_env.run("buyers").state == "failed"
    message = audience_env.audience_row("buyers")["status_message"]
    assert "40001" in message and "scope 31" in message and "re-authenticate" in message


def test_unreachable_contact_database_fails_with_connection_and_fix(audience_env, contacts, monkeypatch):
    import json

    monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DB", json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "x", "password": "secret-pw",
         "schema": "db"}))
    define(audience_env)
    assert audience_env.run("buyers").state == "failed"
    message = audience_env.audience_row("buyers")["status_message"]
    assert "Cannot reach the contact database (Airflow connection 'contacts_db'" in message and "Fix:" in message
    assert "secret-pw" not in message


def test_unknown_segment_id_names_the_segment_and_the_fix(audience_env, contacts):
    define(audience_env, include_segments=[1, 99])
    assert audience_env.run("buyers").state == "failed"
    message = audience_env.audience_row("buyers")["status_message"]
    assert "segment 99 does not exist" in message and "correct the segment id in the audience file" in message


def test_unreachable_metadata_database_fails_with_a_clear_message(audience_env, contacts, monkeypatch, capfd):
    import json

    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_AUDIENCES_META", json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "x", "password": "pw", "schema": "meta"}))
    define(audience_env)
    assert audience_env.run("buyers").state == "failed"
    assert ("Cannot reach the metadata database (Airflow connection 'tiktok_audiences_meta'"
            in "".join(capfd.readouterr()))
    assert audience_env.sandbox.audiences() == []


def test_criteria_syntax_error_names_the_segment_and_the_database_message(audience_env, contacts):
    contacts.execute("UPDATE segments SET criteria = 'contact_id = = 5' WHERE segment_id = 1")
    define(audience_env)
    assert audience_env.run("buyers").state == "failed"
    message = audience_env.audience_row("buyers")["status_message"]
    assert "the contact database rejected the segment criteria of 1 ('First 1200')" in message
    assert "syntax error" in message and "Fix:" in message


def test_invalid_identifiers_are_dropped_and_counted_by_reason(audience_env, api, contacts):
    import json

    contacts.execute("UPDATE contacts SET email = 'not-an-email' WHERE contact_id = 1")
    contacts.execute("UPDATE contacts SET phone = '07911 123456', phone_country = NULL WHERE contact_id = 2")
    contacts.execute("UPDATE contacts SET mobile_ad_id = 'n/a' WHERE contact_id = 3")
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    invalid = json.loads(audience_env.store().run_history("buyers")[0]["invalid"])
    assert invalid == {"email_malformed": 1, "phone_no_region": 1, "maid_malformed": 1}
    from tests.integration.contacts import phone_hashes, sha

    expected = expected_identifiers(range(1, 1401)) - {
        ("email", sha("user1@example.com")), *(("phone", h) for h in phone_hashes(2)),
        ("maid", sha(str(__import__("uuid").UUID(int=4))))
    }
    assert tiktok_members(audience_env) == expected


def test_refused_replace_falls_back_to_append_and_remove(audience_env, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    assert_success(audience_env.run("buyers", full_resync=True))  # TikTok's one REPLACE of the day
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 50")
    assert_success(audience_env.run("buyers", full_resync=True))
    assert tiktok_members(audience_env) == expected_identifiers(range(51, 1401))
    row = audience_env.audience_row("buyers")
    assert "refused the full resync's REPLACE (40002" in row["status_message"]
    assert row["status"] == "Active"


def test_refused_replace_changes_nothing_on_tiktok_and_loses_nothing_until_the_fallback_is_accepted(
        audience_env, contacts):
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    on_tiktok = tiktok_members(audience_env)
    contacts.execute("UPDATE contacts SET subscription_status = 'unsubscribed' WHERE contact_id <= 50")
    # TikTok refuses the REPLACE (TikTok documents the message, not the code), then the fallback's
    # APPEND fails for good: the run must leave TikTok and the confirmed set exactly as they were.
    audience_env.sandbox.fault(path="dmp/custom_audience/update/", code=40000,
                               message="There is an unfinished replace operation on this audience.")
    audience_env.sandbox.fault(path="dmp/custom_audience/update/", code=40700, message="Internal validation error")
    assert audience_env.run("buyers", full_resync=True).state == "failed"
    assert tiktok_members(audience_env) == on_tiktok
    # What is recorded never claims more than TikTok holds, and names everything it may hold.
    store = audience_env.store()
    confirmed = set(store.load_confirmed("buyers").itertuples(index=False, name=None))
    unconfirmed = set(store.load_unconfirmed_identifiers("buyers").to_frame().itertuples(index=False, name=None))
    assert confirmed <= on_tiktok <= confirmed | unconfirmed
    row = audience_env.audience_row("buyers")
    assert row["status"] == "Failed" and "40700" in row["status_message"]
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(51, 1401))


# -- normalization options and create options (issue 15) ---------------------------------------


def test_customer_file_default_sends_phones_as_digits(audience_env, contacts):
    """TikTok's customer-file pages: country code and number without "+" (docs/identifiers.md)."""
    define(audience_env)
    assert_success(audience_env.run("buyers"))
    phones = {h for t, h in tiktok_members(audience_env) if t == "phone"}
    assert sha(phone(2)[1:]) in phones and sha(phone(2)) not in phones


def test_both_phone_forms_are_sent_confirmed_and_removed_together(audience_env, contacts):
    define(audience_env, normalization={"phone_format": "both"})
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1401), phone_format="both")
    row = audience_env.audience_row("buyers")
    assert row["size"] == 1400  # contacts, not records: two phone forms are one person
    confirmed = set(audience_env.store().load_confirmed("buyers").itertuples(index=False, name=None))
    assert {("phone", sha(phone(2))), ("phone", sha(phone(2)[1:]))} <= confirmed

    contacts.remove_members(2, range(1301, 1401))  # 100 contacts leave, 50 of them with a phone
    assert_success(audience_env.run("buyers"))
    assert tiktok_members(audience_env) == expected_identifiers(range(1, 1301), phone_format="both")
    confirmed = set(audience_env.store().load_confirmed("buyers").itertuples(index=False, name=None))
    assert not {("phone", sha(phone(1302))), ("phone", sha(phone(1302)[1:]))} & confirmed
    assert audience_env.store().run_history("buyers")[0]["removed"] == 100 + 2 * 50 + 33


def test_create_options_reach_tiktok(audience_env, contacts):
    define(audience_env, retention_in_days=90, audience_enhancement=True)
    assert_success(audience_env.run("buyers"))
    from datetime import datetime, timedelta

    from tiktok_audiences.hooks.tiktok import TikTokHook

    details = TikTokHook(tiktok_conn_id="tiktok_default").get_audience(
        audience_env.audience_row("buyers")["tiktok_audience_id"]
    )
    created = datetime.strptime(details["create_time"], "%Y-%m-%d %H:%M:%S")
    assert datetime.strptime(details["expired_time"], "%Y-%m-%d %H:%M:%S") - created == timedelta(days=90)
    assert details["audience_enhancement"] is True


def test_create_options_with_a_partner_integration_fail_clearly_and_send_nothing(audience_env, contacts, monkeypatch):
    from tests.integration.conftest import set_integration_api

    set_integration_api(monkeypatch, "partner")
    define(audience_env, retention_in_days=90)
    run = audience_env.run("buyers")
    assert run.state == "failed"
    assert audience_env.sandbox.audiences() == []
    row = audience_env.audience_row("buyers")
    assert "retention_in_days" in (row["last_error"] or row["status_message"] or "")


def test_maid_only_audience_is_created_as_first_sha256(audience_env, contacts):
    """TikTok's create enum has no MAID_*: mobile ids are FIRST_SHA256 (yml_files/dmp_custom_audience_create.yml)."""
    contacts.add_contacts(range(1501, 4001))
    contacts.add_segment(5, "Everyone", criteria="contact_id > 0")
    define(audience_env, include_segments=[5], exclude_segments=[3], identifiers=["maid"])
    assert_success(audience_env.run("buyers"))
    expected = expected_identifiers([*range(1, 1401), *range(1501, 4001)], types=("maid",))
    assert len(expected) > 1000
    assert tiktok_members(audience_env) == expected
    [audience] = audience_env.sandbox.audiences()
    assert audience["calculate_type"] == "FIRST_SHA256"


def test_maid_audience_keeps_syncing_when_its_row_still_says_maid_sha256(audience_env):
    """TikTok's create refuses MAID_SHA256 (its strict enum has FIRST_SHA256 for "IDFA or GAID")."""
    db = ContactDatabase(audience_env.contacts)
    db.add_contacts(range(1, 3301))  # every third contact has a mobile ad id: 1,100 of them
    db.add_segment(1, "Mobile app users", members=range(1, 3301))
    # Every mobile id is a TikTok user, so the audience becomes valid (>= 1,000 matched) and updatable.
    audience_env.sandbox.control("POST", "config", json={"match_rate": 1.0})
    define(audience_env, key="mobile", name="Mobile app users", include_segments=[1], exclude_segments=[],
           identifiers=["maid"])

    assert_success(audience_env.run("mobile"))

    assert tiktok_members(audience_env, "mobile") == expected_identifiers(range(1, 3301), types=("maid",))
    row = audience_env.audience_row("mobile")
    [audience] = audience_env.sandbox.audiences()
    assert audience["calculate_type"] == row["calculate_type"] == "FIRST_SHA256"
    assert row["status"] == "Active"

    # A row recorded before the fix still says MAID_SHA256: the next sync neither reads nor needs it.
    audience_env.store().update_audience("mobile", calculate_type="MAID_SHA256")
    db.remove_members(1, range(1, 301))
    assert_success(audience_env.run("mobile"))

    assert tiktok_members(audience_env, "mobile") == expected_identifiers(range(301, 3301), types=("maid",))
    assert audience_env.audience_row("mobile")["calculate_type"] == "FIRST_SHA256"
