"""TikTokHook against the sandbox over real HTTP: envelope checks, retries, auth, headers."""

from __future__ import annotations

import json

import pytest
import requests

from tiktok_audiences.hooks.tiktok import TikTokHook
from tiktok_audiences.tiktok.errors import (
    TikTokApiError,
    TikTokAudienceNotFound,
    TikTokAuthError,
    TikTokIntegrationError,
)
from tiktok_sandbox.config import SandboxConfig

CONFIG = SandboxConfig()
HASHES = [f"{i:064x}" for i in range(1, 1201)]


@pytest.fixture
def connection(monkeypatch, sandbox):
    def set_connection(**overrides):
        spec = {
            "conn_type": "tiktok_ads",
            "host": sandbox.url,
            "password": CONFIG.access_token,
            "extra": {"advertiser_id": CONFIG.advertiser_ids[0], "app_id": CONFIG.app_id},
        }
        spec.update(overrides)
        monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_TEST", json.dumps(spec))
        return TikTokHook(tiktok_conn_id="tiktok_test", backoff_seconds=0.01, backoff_max_seconds=0.05)

    return set_connection


def email_file(hashes) -> bytes:
    return ("EMAIL_SHA256\n" + "\n".join(hashes) + "\n").encode()


def create(hook: TikTokHook, hashes=HASHES) -> str:
    path = hook.upload_file(email_file(hashes), calculate_type="EMAIL_SHA256", file_name="a.csv")
    return hook.create_audience("Hook test", calculate_type="EMAIL_SHA256", file_paths=[path])


def test_create_and_get_round_trip(connection, sandbox):
    hook = connection()
    audience_id = create(hook)
    assert hook.get_audience(audience_id)["name"] == "Hook test"
    assert len(sandbox.members(audience_id)) == len(HASHES)


def test_unknown_audience_raises_not_found(connection):
    with pytest.raises(TikTokAudienceNotFound):
        connection().get_audience("7399999999999999999")


def test_rate_limit_code_is_retried(connection, sandbox):
    hook = connection()
    sandbox.fault(path="dmp/custom_audience/list/", code=40100, times=2)
    assert list(hook.list_audiences()) == []
    calls = [r for r in sandbox.control("GET", "requests") if "list" in r["path"]]
    assert len(calls) == 3


def test_http_5xx_and_malformed_json_are_retried(connection, sandbox):
    hook = connection()
    sandbox.fault(path="dmp/custom_audience/list/", http_status=502, times=1)
    sandbox.fault(path="dmp/custom_audience/list/", malformed_json=True, times=1)
    assert list(hook.list_audiences()) == []


def test_retries_stop_after_max_attempts(connection, sandbox):
    hook = connection()
    hook.max_attempts = 2
    sandbox.fault(path="dmp/custom_audience/list/", code=50000, times=5)
    with pytest.raises(TikTokApiError, match="50000"):
        list(hook.list_audiences())


def test_revoked_token_fails_fast_with_reauthenticate_hint(connection, sandbox):
    hook = connection()
    sandbox.control("POST", f"tokens/{CONFIG.access_token}/revoke")
    with pytest.raises(TikTokAuthError, match="re-authenticate the integration 'tiktok_test'") as info:
        list(hook.list_audiences())
    assert info.value.code == 40105
    assert len([r for r in sandbox.control("GET", "requests") if "list" in r["path"]]) == 1


def test_other_error_carries_code_message_and_request_id(connection, sandbox):
    hook = connection()
    with pytest.raises(TikTokApiError) as info:
        create(hook, HASHES[:10])  # below TikTok's 1,000 minimum
    assert info.value.code == 40002 and info.value.request_id
    assert "40002" in str(info.value) and info.value.request_id in str(info.value)


def test_connection_extras_are_never_sent_as_headers(connection, sandbox, monkeypatch):
    hook = connection(extra={"advertiser_id": CONFIG.advertiser_ids[0], "app_id": CONFIG.app_id, "secret_note": "x"})
    sent = []
    original = requests.Session.send

    def spy(session, request, **kwargs):
        sent.append(dict(request.headers))
        return original(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", spy)
    list(hook.list_audiences())
    headers = {k.lower() for k in sent[0]}
    assert "access-token" in headers
    assert not headers & {"advertiser_id", "app_id", "secret_note"}


def test_tls_verification_cannot_be_disabled_for_a_remote_host(connection):
    hook = connection(host="https://business-api.tiktok.com", extra={"advertiser_id": "1", "verify": False})
    with pytest.raises(TikTokIntegrationError, match="TLS verification"):
        list(hook.list_audiences())


def test_missing_advertiser_is_a_clear_integration_error(connection):
    hook = connection(extra={})
    with pytest.raises(TikTokIntegrationError, match="has no advertiser_id"):
        _ = hook.advertiser_id


def test_missing_connection_says_the_integration_was_deleted(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_TIKTOK_GONE", raising=False)
    with pytest.raises(TikTokIntegrationError, match="does not exist"):
        _ = TikTokHook(tiktok_conn_id="tiktok_gone").advertiser_id


def test_access_token_is_registered_as_a_secret(connection):
    from airflow.sdk._shared.secrets_masker import redact  # the masker task logs go through

    _ = connection().advertiser_id
    assert CONFIG.access_token not in str(redact(f"token={CONFIG.access_token}"))


def test_requests_are_paced_under_the_integrations_max_qps(connection, sandbox):
    sandbox.control("POST", "config", json={"qps_limit": 4})
    hook = connection(extra={"advertiser_id": CONFIG.advertiser_ids[0], "max_qps": 3})
    hook.max_attempts = 1  # a single 40100 would fail the call
    for _ in range(8):
        list(hook.list_audiences())
    assert [r["code"] for r in sandbox.control("GET", "requests")] == [0] * 8


def test_unpaced_requests_hit_tiktoks_rate_limit(connection, sandbox):
    sandbox.control("POST", "config", json={"qps_limit": 4})
    hook = connection(extra={"advertiser_id": CONFIG.advertiser_ids[0], "max_qps": 0})
    hook.max_attempts = 1
    with pytest.raises(TikTokApiError, match="40100"):
        for _ in range(8):
            list(hook.list_audiences())


LOOKALIKE_SPEC = {"include_source": False, "mobile_os": "ALL", "placements": ["TikTok"],
                  "location_ids": ["6252001"], "audience_size": "NARROW"}


def test_create_lookalike_sends_tiktoks_spec_and_returns_the_id(connection, sandbox):
    hook = connection()
    source = create(hook, [f"{i:064x}" for i in range(1, 2001)])
    spec = {"source_audience_id": source, **LOOKALIKE_SPEC}
    lookalike_id = hook.create_lookalike("Hook lookalike", lookalike_spec=spec)
    details = hook.get_audience(lookalike_id)
    assert details["type"] == "Lookalike Audience" and details["lookalike_spec"] == spec
    hook.refresh_lookalikes([lookalike_id])  # accepted: a refresh of a lookalike of a valid seed


def test_create_lookalike_is_not_retried_blindly(connection, sandbox):
    hook = connection()
    source = create(hook, [f"{i:064x}" for i in range(1, 2001)])
    sandbox.fault(path="dmp/custom_audience/lookalike/create/", code=50000, times=1, after_processing=True)
    with pytest.raises(TikTokApiError, match="50000"):
        hook.create_lookalike("Hook lookalike", lookalike_spec={"source_audience_id": source, **LOOKALIKE_SPEC})
    calls = [r for r in sandbox.control("GET", "requests") if "lookalike/create" in r["path"]]
    assert len(calls) == 1
    assert [a["name"] for a in sandbox.audiences()].count("Hook lookalike") == 1  # it did happen, once


def test_partner_audience_create_and_mapping_round_trip(connection, sandbox):
    hook = connection()
    audience_id = hook.create_partner_audience("Partner hook test")
    batch = [[{"id": h, "audience_ids": [audience_id]}] for h in HASHES[:3]]
    assert hook.map_members(action="add", id_schema=["EMAIL_SHA256"], batch_data=batch) > 0
    hook.map_members(action="delete", id_schema=["EMAIL_SHA256"], batch_data=batch[:1])
    assert sandbox.members(audience_id) == {("email", h) for h in HASHES[1:3]}
    assert hook.get_audience(audience_id)["type"] == "Partner"


def test_app_without_partner_access_fails_fast_with_the_allowlist_message(connection, sandbox):
    from tiktok_audiences.tiktok.errors import TikTokPartnerAccessError

    sandbox.control("POST", "config", json={"partner_api_enabled": False})
    hook = connection()
    with pytest.raises(TikTokPartnerAccessError) as info:
        hook.create_partner_audience("No access")
    message = str(info.value)
    assert info.value.code == 40118 and "not enabled for this TikTok app" in message
    assert "allowlist" in message and "api: customer_file" in message
    hook.max_attempts = 6
    with pytest.raises(TikTokPartnerAccessError):
        hook.map_members(action="add", id_schema=["EMAIL_SHA256"], batch_data=[[{}]])
    assert len([r for r in sandbox.control("GET", "requests") if "segment" in r["path"]]) == 2  # no retries


def test_permission_error_on_the_segment_api_mentions_partner_access(connection, sandbox):
    from tiktok_audiences.tiktok.errors import TikTokPartnerAccessError

    sandbox.control("POST", "tokens", json={"token": "read-only", "scope": [3, 30]})
    hook = connection(password="read-only")
    with pytest.raises(TikTokPartnerAccessError, match="not enabled for this TikTok app.*scope 31"):
        hook.create_partner_audience("No scope")


def test_integration_api_extra_is_read_and_checked(connection):
    hook = connection(extra={"advertiser_id": CONFIG.advertiser_ids[0], "api": "partner"})
    assert hook.integration.api == "partner"
    assert connection().integration.api is None
    with pytest.raises(TikTokIntegrationError, match="extra api='files' is not one of customer_file, partner"):
        _ = connection(extra={"advertiser_id": CONFIG.advertiser_ids[0], "api": "files"}).integration


def test_create_sends_retention_and_enhancement_only_when_set(connection, sandbox):
    """retention_in_days pins expiry to creation + N days (yml_files/dmp_custom_audience_create.yml)."""
    from datetime import datetime, timedelta

    hook = connection()
    path = hook.upload_file(email_file(HASHES), calculate_type="EMAIL_SHA256", file_name="a.csv")
    pinned = hook.create_audience("Pinned", calculate_type="EMAIL_SHA256", file_paths=[path],
                                  retention_in_days=30, audience_enhancement=True)
    details = hook.get_audience(pinned)
    created = datetime.strptime(details["create_time"], "%Y-%m-%d %H:%M:%S")
    assert datetime.strptime(details["expired_time"], "%Y-%m-%d %H:%M:%S") - created == timedelta(days=30)
    assert details["audience_enhancement"] is True

    path = hook.upload_file(email_file(HASHES), calculate_type="EMAIL_SHA256", file_name="b.csv")
    plain = hook.create_audience("Plain", calculate_type="EMAIL_SHA256", file_paths=[path])
    details = hook.get_audience(plain)
    created = datetime.strptime(details["create_time"], "%Y-%m-%d %H:%M:%S")
    assert datetime.strptime(details["expired_time"], "%Y-%m-%d %H:%M:%S") - created == timedelta(days=365)
    assert details["audience_enhancement"] is False


@pytest.mark.contract_violations_expected
def test_sandbox_refuses_retention_outside_tiktoks_range(connection):
    hook = connection()
    path = hook.upload_file(email_file(HASHES), calculate_type="EMAIL_SHA256", file_name="a.csv")
    with pytest.raises(TikTokApiError, match="retention_in_days"):
        hook.create_audience("Too long", calculate_type="EMAIL_SHA256", file_paths=[path], retention_in_days=366)


@pytest.mark.parametrize("answer", ["absent", "invalid_id_error"])
def test_unknown_audience_is_not_found_in_both_of_tiktoks_shapes(connection, sandbox, answer):
    # Absent from get's list, or 40002 "Parameter error: invalid audience ID" (docs/sandbox.md).
    sandbox.control("POST", "config", json={"unknown_audience_get": answer})
    hook = connection()
    known = create(hook)
    assert hook.get_audience(known)["audience_id"] == known  # a known id answers as before
    with pytest.raises(TikTokAudienceNotFound) as info:
        hook.get_audience("7399999999999999999")
    if answer == "invalid_id_error":
        assert info.value.code == 40002 and "invalid audience ID" in str(info.value)
        assert info.value.request_id  # TikTok's request id is kept for support
    gets = [r for r in sandbox.control("GET", "requests") if r["path"].endswith("custom_audience/get/")]
    assert len(gets) == 2  # a refusal naming the id is permanent: not retried


def test_sandbox_refuses_get_of_unknown_id_with_tiktoks_parameter_error(connection, sandbox):
    sandbox.control("POST", "config", json={"unknown_audience_get": "invalid_id_error"})
    hook = connection()
    known = create(hook)
    with pytest.raises(TikTokApiError) as info:
        hook.get_audiences([known, "7399999999999999999"])  # one unknown id refuses the whole request
    assert info.value.code == 40002 and info.value.tiktok_message == "Parameter error: invalid audience ID"


def test_other_40002_of_get_is_not_taken_for_a_missing_audience(connection, sandbox):
    hook = connection()
    sandbox.fault(path="dmp/custom_audience/get/", code=40002, message="Parameter error: history_size is invalid")
    with pytest.raises(TikTokApiError) as info:
        hook.get_audience("7399999999999999999")
    assert not isinstance(info.value, TikTokAudienceNotFound)


# -- TikTok's refusals of an update: busy (waited out, bounded), too few matches and other 40002s (not retried)

UPDATE = "dmp/custom_audience/update/"


def updates_sent(sandbox) -> list[dict]:
    return [r for r in sandbox.control("GET", "requests") if r["path"].endswith(UPDATE)]


def test_busy_audience_is_waited_out_then_updated(connection, sandbox):
    from tiktok_sandbox.errors import BUSY_MESSAGE

    sandbox.control("POST", "config", json={"processing_seconds": 1.0, "match_rate": 1.0})
    hook = connection()
    path = hook.upload_file(email_file([f"{i:064x}" for i in range(5000, 5010)]), calculate_type="EMAIL_SHA256",
                            file_name="b.csv")
    audience_id = create(hook)
    hook.update_audience(audience_id, file_paths=[path], action="APPEND")  # right after the create: busy first
    answers = [r["code"] for r in updates_sent(sandbox)]
    assert answers[-1] == 0 and set(answers[:-1]) == {40002} and len(answers) >= 2
    assert len(sandbox.members(audience_id)) == len(HASHES) + 10
    assert BUSY_MESSAGE.startswith("The audience is currently being updated")


def test_busy_beyond_the_wait_raises_busy_and_changes_nothing(connection, sandbox):
    from tiktok_audiences.tiktok.errors import TikTokAudienceBusy, is_transient

    sandbox.control("POST", "config", json={"processing_seconds": 3600, "match_rate": 1.0})
    spec_extra = {"advertiser_id": CONFIG.advertiser_ids[0], "busy_wait_seconds": 0.05, "retry_backoff_seconds": 0.02}
    hook = connection(extra=spec_extra)
    audience_id = create(hook)
    path = hook.upload_file(email_file(HASHES[:10]), calculate_type="EMAIL_SHA256", file_name="b.csv")
    with pytest.raises(TikTokAudienceBusy) as info:
        hook.update_audience(audience_id, file_paths=[path], action="REMOVE")
    assert info.value.code == 40002 and "under processing" in str(info.value) and info.value.request_id
    assert 0 < info.value.waited_seconds <= 0.05
    assert is_transient(info.value)  # not a permanent failure: the next run carries on
    assert 2 <= len(updates_sent(sandbox)) <= 3  # bounded: 0.02 + 0.04 s of waiting at most
    assert len(sandbox.members(audience_id)) == len(HASHES)


def test_busy_wait_of_zero_sends_once(connection, sandbox):
    from tiktok_audiences.tiktok.errors import TikTokAudienceBusy

    hook = connection(extra={"advertiser_id": CONFIG.advertiser_ids[0], "busy_wait_seconds": 0})
    audience_id = create(hook)
    sandbox.fault(path=UPDATE, refusal="busy", times=3)
    with pytest.raises(TikTokAudienceBusy):
        hook.update_audience(audience_id, file_paths=[], action="APPEND")
    assert len(updates_sent(sandbox)) == 1  # the generic retries leave a busy audience to the busy wait


def test_bad_busy_wait_extra_names_the_fix(connection):
    hook = connection(extra={"advertiser_id": CONFIG.advertiser_ids[0], "busy_wait_seconds": "soon"})
    with pytest.raises(TikTokIntegrationError, match="busy_wait_seconds='soon' is not a number of seconds"):
        hook.update_audience("1", file_paths=["p"], action="APPEND")


def test_audience_created_with_too_few_matches_is_refused_once(connection, sandbox):
    from tiktok_audiences.tiktok.errors import TikTokTooFewMatches, is_permanent_tiktok_error

    sandbox.control("POST", "config", json={"match_rate": 0.5})  # about 600 of 1,200 hashes are on TikTok
    hook = connection()
    audience_id = create(hook)
    assert hook.get_audience(audience_id)["is_valid"] is False
    path = hook.upload_file(email_file([f"{i:064x}" for i in range(5000, 6000)]), calculate_type="EMAIL_SHA256",
                            file_name="b.csv")
    with pytest.raises(TikTokTooFewMatches) as info:
        hook.update_audience(audience_id, file_paths=[path], action="APPEND")
    assert "less than 1000 matches were found" in str(info.value)
    assert is_permanent_tiktok_error(info.value)
    assert len(updates_sent(sandbox)) == 1


def test_other_40002_of_update_is_permanent_and_sent_once(connection, sandbox):
    from tiktok_audiences.tiktok.errors import TikTokAudienceBusy, TikTokTooFewMatches, is_permanent_tiktok_error

    hook = connection()
    audience_id = create(hook)
    sandbox.fault(path=UPDATE, code=40002, message="Parameter error: file_paths is invalid", times=3)
    with pytest.raises(TikTokApiError) as info:
        hook.update_audience(audience_id, file_paths=["nope"], action="APPEND")
    assert not isinstance(info.value, (TikTokAudienceBusy, TikTokTooFewMatches))
    assert is_permanent_tiktok_error(info.value)
    assert len(updates_sent(sandbox)) == 1


def test_transient_update_error_is_retried(connection, sandbox):
    sandbox.control("POST", "config", json={"match_rate": 1.0})
    hook = connection()
    audience_id = create(hook)
    path = hook.upload_file(email_file([f"{i:064x}" for i in range(5000, 5010)]), calculate_type="EMAIL_SHA256",
                            file_name="b.csv")
    sandbox.fault(path=UPDATE, code=50000, times=2)
    hook.update_audience(audience_id, file_paths=[path], action="APPEND")
    assert [r["code"] for r in updates_sent(sandbox)] == [50000, 50000, 0]
