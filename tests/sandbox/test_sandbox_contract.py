"""TikTok's API contract (tiktok_sandbox/contract/tiktok_api.json), enforced by the sandbox on every request."""

from __future__ import annotations

import pytest

from tests.conftest import unexpected_contract_violations
from tests.sandbox.test_sandbox_server import ADVERTISER, Api, Control, email_hashes, sha256_hex
from tiktok_sandbox.contract import Violation, check_response, endpoint_contract, load_contract
from tiktok_sandbox.state import LIVE_STATES, SandboxState
from tiktok_sandbox.tiktok_api import ENDPOINTS

#: Endpoint paths the client calls (the hook's ``self.call``; the OAuth set-up's token exchange).
CLIENT_PATHS = (
    "oauth2/access_token/", "dmp/custom_audience/file/upload/",
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
        {"endpoint": "/dmp/custom_audience/create/", "field": "calculate_type",
         "problem": body["message"].split(": ", 2)[2], "kind": "request"}
    ]


@pytest.mark.contract_violations_expected
def test_missing_required_field_is_40002_naming_the_field_and_recorded(api: Api, control: Control) -> None:
    body = api.post("dmp/custom_audience/delete/", {"advertiser_id": ADVERTISER}).json()

    assert body["code"] == 40002
    assert body["message"] == "Parameter error: custom_audience_ids: is required"
    assert control.get("contract/violations") == [
        {"endpoint": "/dmp/custom_audience/delete/", "field": "custom_audience_ids", "problem": "is required",
         "kind": "request"}
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
        "request /dmp/custom_audience/create/ Parameter error: calculate_type: is required"
    ]


def client_paths() -> set[str]:
    """The paths the client calls, read from its source: every ``self.call("METHOD", "path", ...)`` of the
    hook, and every ``/open_api/v1.3/<path>`` URL of the integration set-up (the OAuth token exchange)."""
    import inspect
    import re

    from tiktok_audiences import integration
    from tiktok_audiences.hooks import tiktok

    calls = re.findall(r'self\.call\(\s*"(?:GET|POST)",\s*"([^"]+)"', inspect.getsource(tiktok))
    calls += re.findall(r'/open_api/v1\.3/([a-z0-9_/]+)', inspect.getsource(integration))
    return {path.strip("/") + "/" for path in calls}


def test_every_endpoint_the_client_calls_has_a_sourced_contract_entry() -> None:
    served = {endpoint.path for endpoint in ENDPOINTS}
    assert client_paths() >= set(CLIENT_PATHS)  # the source scan finds at least the known calls
    for path in sorted(client_paths()):
        assert path in served, path
        entry = endpoint_contract(path)
        assert entry is not None, f"{path} has no contract entry"
    for path, entry in load_contract()["endpoints"].items():
        assert entry.get("x-source"), f"{path} has no x-source"


# ----------------------------------------------------------------- mobile ad ids: FIRST_SHA256


def maid_hashes(count: int) -> list[str]:
    return [sha256_hex(f"{i:08x}-0000-4000-8000-000000000000") for i in range(count)]


def test_mobile_id_audience_is_first_sha256_and_its_maid_header_file_is_accepted(api: Api, control: Control) -> None:
    hashes = maid_hashes(1000)
    # The header TikTok's help center names (MAID_SHA256), under the calculate_type create accepts.
    file_path = api.upload_ok(hashes, "FIRST_SHA256", header="MAID_SHA256")

    body = api.create([file_path], calculate_type="FIRST_SHA256").json()

    assert body["code"] == 0, body
    audience_id = body["data"]["custom_audience_id"]
    assert api.details(audience_id)["calculate_type"] == "FIRST_SHA256"
    assert control.members(audience_id, "FIRST_SHA256") == set(hashes)


def test_upload_maid_alias_is_the_same_type_as_first(api: Api, control: Control) -> None:
    hashes = maid_hashes(1000)
    file_path = api.upload_ok(hashes, "MAID_SHA256", header="MAID_SHA256")  # the upload enum's alias

    body = api.create([file_path], calculate_type="FIRST_SHA256").json()

    assert body["code"] == 0, body
    assert control.members(body["data"]["custom_audience_id"], "FIRST_SHA256") == set(hashes)


@pytest.mark.contract_violations_expected
@pytest.mark.parametrize("calculate_type", ["MAID_SHA256", "MAID_MD5"])
def test_create_refuses_the_maid_aliases(api: Api, control: Control, calculate_type: str) -> None:
    file_path = api.upload_ok(maid_hashes(1000), "FIRST_SHA256", header="MAID_SHA256")

    body = api.create([file_path], calculate_type=calculate_type).json()

    assert body["code"] == 40002
    assert body["message"].startswith(f"Parameter error: calculate_type: '{calculate_type}' is not one of [")
    assert [v["field"] for v in control.get("contract/violations")] == ["calculate_type"]
    assert not [a for a in control.audiences() if not a.get("deleted")]


# ----------------------------------------------------------------- responses


def test_get_names_the_kind_type_and_list_names_it_audience_type(api: Api, control: Control) -> None:
    audience_id = api.create_ok(email_hashes(1000))

    details = api.details(audience_id)
    listed = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}).json()["data"]["list"]

    assert details["type"] == "Customer File Audience" and "audience_type" not in details
    assert listed[0]["audience_type"] == "Customer File Audience" and "type" not in listed[0]
    assert control.get("contract/violations") == []  # every answer matched its response schema


def test_a_response_with_an_invented_field_is_a_response_violation() -> None:
    # get's audience_details as the sandbox used to send them: list's audience_type as well as get's type.
    data = {"list": [{"audience_details": {"audience_id": "1", "name": "n", "type": "Partner",
                                           "audience_type": "Partner", "cover_num": 0, "is_valid": False}}]}

    assert check_response("dmp/custom_audience/get/", data) == [
        Violation("/dmp/custom_audience/get/", "data.list[0].audience_details.audience_type",
                  "is not a field TikTok answers", kind="response")
    ]
    assert (
        check_response("dmp/custom_audience/update/", {"custom_audience_id": "1"})[0].problem
        == "should carry no field"
    )


def test_every_contract_entry_has_a_request_and_a_response_schema() -> None:
    for path, entry in load_contract()["endpoints"].items():
        assert entry.get("request"), f"{path} has no request schema"
        assert entry.get("response"), f"{path} has no response schema"
        if "partner code" in entry.get("x-source-kind", ""):
            assert "bububa/tiktok-business" in entry["x-source"], path


def test_a_header_less_first_sha256_file_is_one_column_of_mobile_ids(api: Api, control: Control) -> None:
    hashes = maid_hashes(1000)
    file_path = api.upload_ok(hashes, "FIRST_SHA256", header=None)

    body = api.create([file_path], calculate_type="FIRST_SHA256").json()

    assert body["code"] == 0, body
    assert control.members(body["data"]["custom_audience_id"], "FIRST_SHA256") == set(hashes)
