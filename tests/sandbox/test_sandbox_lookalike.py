"""The sandbox's lookalike endpoints (/dmp/custom_audience/lookalike/create/ and /update/), over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.test_sandbox_server import ADVERTISER, OTHER_ADVERTISER, Api, Control, email_hashes

CREATE = "dmp/custom_audience/lookalike/create/"
REFRESH = "dmp/custom_audience/lookalike/update/"


def spec(source_id: str, **overrides: Any) -> dict[str, Any]:
    return {"source_audience_id": source_id, "include_source": False, "mobile_os": "ALL", "placements": ["TikTok"],
            "location_ids": ["6252001"], "audience_size": "BALANCED", **overrides}


def valid_source(api: Api, control: Control) -> str:
    source = api.create_ok(email_hashes(2000))
    control.post(f"audiences/{source}/finish_processing")
    assert api.details(source)["is_valid"], "2,000 hashes at the default match rate make a valid audience"
    return source


def create(api: Api, body_spec: Any, name: str = "VIP (lookalike)", advertiser_id: str = ADVERTISER) -> dict:
    return api.post(CREATE, {"advertiser_id": advertiser_id, "custom_audience_name": name,
                             "lookalike_spec": body_spec}).json()


def test_create_returns_an_id_listed_as_a_lookalike_with_its_spec(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    body = create(api, spec(source, audience_size="BROAD"))
    assert body["code"] == 0, body
    lookalike_id = body["data"]["custom_audience_id"]
    details = api.details(lookalike_id)
    assert details["type"] == "Lookalike Audience" and details["name"] == "VIP (lookalike)"
    assert details["lookalike_spec"] == spec(source, audience_size="BROAD")
    listed = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER, "page_size": 100}).json()
    assert lookalike_id in [a["audience_id"] for a in listed["data"]["list"]]


def test_lookalike_becomes_valid_after_processing_with_a_deterministic_cover(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    lookalike_id = create(api, spec(source))["data"]["custom_audience_id"]
    assert api.details(lookalike_id)["is_valid"] is False
    control.post(f"audiences/{lookalike_id}/finish_processing")
    details = api.details(lookalike_id)
    seed = api.details(source)["cover_num"]
    assert details["is_valid"] is True and details["cover_num"] == seed * 20  # BALANCED, one location


def test_source_still_processing_is_refused(api: Api) -> None:
    source = api.create_ok(email_hashes(2000))
    body = create(api, spec(source))
    assert body["code"] == 40002 and "at least 100" in body["message"]


def test_unknown_or_foreign_source_is_refused(api: Api, control: Control) -> None:
    assert create(api, spec("7399999999999999999"))["code"] == 40002
    source = valid_source(api, control)
    control.post("tokens", {"token": "other-token", "advertiser_ids": [OTHER_ADVERTISER]})
    body = api.post(CREATE, {"advertiser_id": OTHER_ADVERTISER, "custom_audience_name": "x",
                             "lookalike_spec": spec(source)}, token="other-token").json()
    assert body["code"] == 40002 and "does not exist" in body["message"]


def test_lookalike_cannot_seed_another(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    lookalike_id = create(api, spec(source))["data"]["custom_audience_id"]
    control.post(f"audiences/{lookalike_id}/finish_processing")
    body = create(api, spec(lookalike_id), name="Second generation")
    assert body["code"] == 40002 and "lookalike" in body["message"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"audience_size": "HUGE"}, "audience_size"),
        ({"mobile_os": "WINDOWS"}, "mobile_os"),
        ({"placements": ["Instagram"]}, "placements"),
        ({"placements": []}, "placements"),
        ({"location_ids": []}, "location_ids"),
        ({"include_source": "no"}, "include_source"),
    ],
)
@pytest.mark.contract_violations_expected
def test_bad_spec_values_are_40002_naming_the_field(api: Api, control: Control, change, field) -> None:
    source = valid_source(api, control)
    body = create(api, spec(source, **change))
    assert body["code"] == 40002 and field in body["message"], body


@pytest.mark.contract_violations_expected
def test_every_spec_field_is_required(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    for field in ("source_audience_id", "include_source", "mobile_os", "placements", "location_ids", "audience_size"):
        incomplete = {k: v for k, v in spec(source).items() if k != field}
        body = create(api, incomplete)
        assert body["code"] == 40002 and field in body["message"], (field, body)


def test_name_over_128_characters_is_refused(api: Api, control: Control) -> None:
    assert create(api, spec(valid_source(api, control)), name="x" * 129)["code"] == 40002


def test_token_without_the_advertiser_is_40001(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    assert create(api, spec(source), advertiser_id="7200000000000000009")["code"] == 40001


def test_refresh_rebuilds_from_the_seeds_current_members(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    lookalike_id = create(api, spec(source))["data"]["custom_audience_id"]
    control.post(f"audiences/{lookalike_id}/finish_processing")
    before = api.details(lookalike_id)["cover_num"]
    path = api.upload_ok(email_hashes(1000, start=5000))
    assert api.update(source, [path], "APPEND")["code"] == 0
    control.post(f"audiences/{source}/finish_processing")
    body = api.post(REFRESH, {"advertiser_id": ADVERTISER, "custom_audience_ids": [lookalike_id]}).json()
    assert body["code"] == 0, body
    control.post(f"audiences/{lookalike_id}/finish_processing")
    after = api.details(lookalike_id)
    assert after["cover_num"] == api.details(source)["cover_num"] * 20 > before
    assert after["lookalike_spec"] == spec(source)  # a refresh never changes the settings


def test_refresh_of_a_customer_file_audience_is_refused(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    body = api.post(REFRESH, {"advertiser_id": ADVERTISER, "custom_audience_ids": [source]}).json()
    assert body["code"] == 40002


def test_lookalike_has_no_customer_file_to_update(api: Api, control: Control) -> None:
    source = valid_source(api, control)
    lookalike_id = create(api, spec(source))["data"]["custom_audience_id"]
    path = api.upload_ok(email_hashes(1000, start=9000))
    assert api.update(lookalike_id, [path], "APPEND")["code"] == 40002
