"""TikTok's API contract (tiktok_sandbox/contract/tiktok_api.json), enforced by the sandbox on every request."""

from __future__ import annotations

import pytest
from tiktok_sandbox.contract import Violation, endpoint_contract, load_contract
from tiktok_sandbox.state import LIVE_STATES, SandboxState
from tiktok_sandbox.tiktok_api import ENDPOINTS

from tests.conftest import unexpected_contract_violations
from tests.sandbox.test_sandbox_server import ADVERTISER, Api, Control, email_hashes

#: Endpoint paths the client calls (provider/src/tiktok_audiences/hooks/tiktok.py ``self.call``).
CLIENT_PATHS = (
    "oauth2/access_token/", "oauth2/advertiser/get/", "dmp/custom_audience/file/upload/",
    "dmp/custom_audience/create/", "dmp/custom_audience/update/", "dmp/custom_audience/get/",
    "dmp/custom_audience/list/", "dmp/custom_audience/delete/", "dmp/custom_audience/lookalike/create/",
    "dmp/custom_audience/lookalike/update/", "segment/audience/", "segment/mapping/",
)


@pytest.mark.contract_violations_expected
def test_wrong_enum_value_is_40002_naming_the_field_and_recorded(api: Api, control: Control) -> None:
    file_path = api.upload_ok(email_hashes(10))

    body = api.create([file_path], calculate_type="MAID_SHA256").json()

    assert body["code"] == 40002
    assert body["message"].startswith("Parameter error: calculate_type: 'MAID_SHA256' is not one of [")
    assert control.get("contract/violations") == [
        {"endpoint": "/dmp/custom_audience/create/", "field": "calculate_type", "problem": body["message"].split(": ", 2)[2]}
    ]


@pytest.mark.contract_violations_expected
def test_missing_required_field_is_40002_naming_the_field_and_recorded(api: Api, control: Control) -> None:
    body = api.post("dmp/custom_audience/delete/", {"advertiser_id": ADVERTISER}).json()

    assert body["code"] == 40002
    assert body["message"] == "Parameter error: custom_audience_ids: is required"
    assert control.get("contract/violations") == [
        {"endpoint": "/dmp/custom_audience/delete/", "field": "custom_audience_ids", "problem": "is required"}
    ]


@pytest.mark.contract_violations_expected
def test_reset_clears_the_recorded_violations(api: Api, control: Control) -> None:
    api.post("dmp/custom_audience/delete/", {"advertiser_id": ADVERTISER})

    control.post("reset")

    assert control.get("contract/violations") == []


def test_query_strings_are_decoded_before_validating(api: Api, control: Control) -> None:
    audience_id = api.create_ok(email_hashes(1000))

    body = api.get(
        "dmp/custom_audience/get/",
        {"advertiser_id": ADVERTISER, "custom_audience_ids": f'["{audience_id}"]', "history_size": "1"},
    ).json()

    assert body["code"] == 0, body
    assert control.get("contract/violations") == []


@pytest.mark.contract_violations_expected  # the violation below is the point; keep the real check quiet
def test_the_suite_check_reports_an_unexpected_violation() -> None:
    state = SandboxState()
    before = {id(live): len(live.contract_violation_history()) for live in LIVE_STATES}

    state.record_contract_violations([Violation("/dmp/custom_audience/create/", "calculate_type", "is required")])

    assert unexpected_contract_violations(before) == [
        "/dmp/custom_audience/create/ Parameter error: calculate_type: is required"
    ]


def test_every_endpoint_the_client_calls_has_a_sourced_contract_entry() -> None:
    served = {endpoint.path for endpoint in ENDPOINTS}
    for path in CLIENT_PATHS:
        assert path in served, path
        entry = endpoint_contract(path)
        assert entry is not None, f"{path} has no contract entry"
    for path, entry in load_contract()["endpoints"].items():
        assert entry.get("x-source"), f"{path} has no x-source"
