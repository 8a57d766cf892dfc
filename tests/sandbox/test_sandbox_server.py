"""Behaviour of the TikTok Marketing API sandbox, exercised over real HTTP.

One behaviour per test. A single SandboxServer (real uvicorn on a free port) serves the whole
module and is reset before each test; tests talk to it with ``requests`` only.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

API = "/open_api/v1.3"
TOKEN = "sandbox-access-token-0001"
ADVERTISER = "7200000000000000001"
OTHER_ADVERTISER = "7200000000000000002"
APP_ID = "7100000000000000001"
APP_SECRET = "sandbox-app-secret"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def email_hashes(count: int, start: int = 0, domain: str = "example.com") -> list[str]:
    """Deterministic SHA-256 email hashes ``user{i}@domain`` for i in [start, start + count)."""
    return [sha256_hex(f"user{i}@{domain}") for i in range(start, start + count)]


def token_header(token: str | None) -> dict[str, str]:
    """The Access-Token header, or no header at all when ``token`` is None."""
    return {"Access-Token": token} if token else {}


class Api:
    """Tiny TikTok client used by the tests: real HTTP through ``requests``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, params: dict[str, Any] | None = None, *, token: str | None = TOKEN) -> requests.Response:
        return self.session.get(f"{self.base_url}{API}/{path}", params=params, headers=token_header(token))

    def post(self, path: str, body: Any = None, *, token: str | None = TOKEN) -> requests.Response:
        return self.session.post(f"{self.base_url}{API}/{path}", json=body, headers=token_header(token))

    def upload(
        self,
        rows: Sequence[str] | bytes,
        calculate_type: str = "EMAIL_SHA256",
        *,
        header: str | None = "EMAIL_SHA256",
        filename: str = "audience.csv",
        advertiser_id: str = ADVERTISER,
        signature: str | None = None,
        token: str | None = TOKEN,
    ) -> requests.Response:
        if isinstance(rows, bytes):
            content = rows
        else:
            lines = ([header] if header else []) + list(rows)
            content = ("\n".join(lines) + "\n").encode()
        return self.session.post(
            f"{self.base_url}{API}/dmp/custom_audience/file/upload/",
            headers=token_header(token),
            data={
                "advertiser_id": advertiser_id,
                "calculate_type": calculate_type,
                "file_signature": signature if signature is not None else hashlib.md5(content).hexdigest(),
            },
            files={"file": (filename, content, "text/csv")},
        )

    def upload_ok(self, rows: Sequence[str] | bytes, calculate_type: str = "EMAIL_SHA256", **kwargs: Any) -> str:
        response = self.upload(rows, calculate_type, **kwargs)
        body = response.json()
        assert body["code"] == 0, body
        return str(body["data"]["file_path"])

    def create(
        self, file_paths: list[str], calculate_type: str = "EMAIL_SHA256", name: str = "Test audience"
    ) -> requests.Response:
        return self.post(
            "dmp/custom_audience/create/",
            {
                "advertiser_id": ADVERTISER,
                "custom_audience_name": name,
                "calculate_type": calculate_type,
                "file_paths": file_paths,
            },
        )

    def create_ok(self, hashes: Sequence[str], calculate_type: str = "EMAIL_SHA256") -> str:
        file_path = self.upload_ok(hashes, calculate_type, header=calculate_type)
        body = self.create([file_path], calculate_type).json()
        assert body["code"] == 0, body
        return str(body["data"]["custom_audience_id"])

    def update(self, audience_id: str, file_paths: list[str], action: str) -> dict[str, Any]:
        response = self.post(
            "dmp/custom_audience/update/",
            {
                "advertiser_id": ADVERTISER,
                "custom_audience_id": audience_id,
                "file_paths": file_paths,
                "action": action,
            },
        )
        body: dict[str, Any] = response.json()
        return body

    def details(self, audience_id: str) -> dict[str, Any]:
        body = self.get(
            "dmp/custom_audience/get/",
            {"advertiser_id": ADVERTISER, "custom_audience_ids": json.dumps([audience_id])},
        ).json()
        assert body["code"] == 0, body
        assert len(body["data"]["list"]) == 1, body
        return dict(body["data"]["list"][0]["audience_details"])


class Control:
    """Client of the /_sandbox control API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = f"{base_url}/_sandbox"

    def post(self, path: str, body: Any = None) -> Any:
        response = requests.post(f"{self.base_url}/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.base_url}/{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def configure(self, **changes: Any) -> None:
        self.post("config", changes)

    def fault(self, **spec: Any) -> None:
        self.post("faults", spec)

    def members(self, audience_id: str, id_type: str = "EMAIL_SHA256") -> set[str]:
        return set(self.get(f"audiences/{audience_id}/members")["members"].get(id_type, []))

    def audiences(self) -> list[dict[str, Any]]:
        return list(self.get("audiences"))


REDIRECT_URI = "https://app.example.com/oauth/callback"


def expected_cover(hashes: list[str], match_rate: float) -> int:
    """The documented matching rule, written independently of the sandbox's implementation."""
    return sum(1 for h in hashes if int(hashlib.sha256(h.encode()).hexdigest()[:8], 16) / 2**32 < match_rate)


# --------------------------------------------------------------------------- envelope & routing


def test_success_envelope(api: Api) -> None:
    response = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"code", "message", "request_id", "data"}
    assert (body["code"], body["message"]) == (0, "OK")
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert body["data"]["page_info"] == {"page": 1, "page_size": 10, "total_number": 0, "total_page": 0}
    assert response.headers["X-TT-LOGID"] == body["request_id"]


def test_trailing_slash_is_optional(api: Api) -> None:
    with_slash = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})
    without_slash = api.get("dmp/custom_audience/list", {"advertiser_id": ADVERTISER})

    assert with_slash.json()["code"] == without_slash.json()["code"] == 0
    assert without_slash.history == []  # served directly, not redirected


def test_unknown_path_is_http_404(api: Api) -> None:
    assert api.get("dmp/custom_audience/nope/").status_code == 404
    assert api.post("not/an/endpoint/", {}).status_code == 404


# --------------------------------------------------------------------------- authentication & permission


def test_missing_access_token_is_40104(api: Api) -> None:
    body = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}, token=None).json()

    assert body["code"] == 40104
    assert body["message"] == "Access token is null, you should set it in http header with key Access-Token"
    assert body["data"] == {}


def test_unknown_access_token_is_40105(api: Api) -> None:
    body = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}, token="not-a-token").json()

    assert body["code"] == 40105


def test_revoked_access_token_is_40105(api: Api, control: Control) -> None:
    control.post("tokens", {"token": "short-lived-token"})
    assert (
        api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}, token="short-lived-token").json()["code"]
        == 0
    )

    control.post("tokens/short-lived-token/revoke")

    body = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}, token="short-lived-token").json()
    assert body["code"] == 40105


def test_advertiser_outside_token_is_40001(api: Api) -> None:
    body = api.get("dmp/custom_audience/list/", {"advertiser_id": "7299999999999999999"}).json()

    assert body["code"] == 40001
    assert "7299999999999999999" in body["message"]


def test_missing_write_scope_is_40001(api: Api, control: Control) -> None:
    control.post("tokens", {"token": "read-only-token", "scope": [3, 30]})

    body = api.upload(email_hashes(5), token="read-only-token").json()

    assert body["code"] == 40001
    assert "31" in body["message"]


@pytest.mark.contract_violations_expected
def test_parameter_error_is_40002_naming_the_field(api: Api) -> None:
    numeric_id = api.post(
        "dmp/custom_audience/create/",
        {
            "advertiser_id": int(ADVERTISER),
            "custom_audience_name": "x",
            "calculate_type": "EMAIL_SHA256",
            "file_paths": ["a"],
        },
    ).json()
    missing_name = api.post(
        "dmp/custom_audience/create/",
        {"advertiser_id": ADVERTISER, "calculate_type": "EMAIL_SHA256", "file_paths": ["a"]},
    ).json()
    bad_action = api.post(
        "dmp/custom_audience/update/",
        {"advertiser_id": ADVERTISER, "custom_audience_id": "1", "file_paths": ["a"], "action": "DELETE"},
    ).json()

    assert numeric_id["code"] == missing_name["code"] == bad_action["code"] == 40002
    assert numeric_id["message"].startswith("Parameter error: advertiser_id")
    assert "custom_audience_name" in missing_name["message"]
    assert "action" in bad_action["message"]


# --------------------------------------------------------------------------- file upload


def test_upload_returns_file_path(api: Api) -> None:
    body = api.upload(email_hashes(10)).json()

    assert body["code"] == 0
    assert isinstance(body["data"]["file_path"], str) and body["data"]["file_path"]


def test_upload_md5_mismatch_is_40900(api: Api) -> None:
    body = api.upload(email_hashes(10), signature=hashlib.md5(b"other bytes").hexdigest()).json()

    assert body["code"] == 40900


def test_upload_wrong_suffix_is_40908(api: Api) -> None:
    body = api.upload(email_hashes(10), filename="audience.xlsx").json()

    assert body["code"] == 40908


@pytest.mark.contract_violations_expected
def test_upload_unknown_calculate_type_is_40909(api: Api) -> None:
    body = api.upload(email_hashes(10), "EMAIL_MD5").json()

    assert body["code"] == 40909


def test_upload_empty_file_is_40906(api: Api) -> None:
    body = api.upload(b"").json()

    assert body["code"] == 40906


def test_upload_invalid_hash_is_40911(api: Api) -> None:
    body = api.upload([*email_hashes(3), "someone@example.com"]).json()

    assert body["code"] == 40911
    assert "line 5" in body["message"]


def test_upload_column_must_fit_calculate_type(api: Api) -> None:
    body = api.upload(email_hashes(3), "EMAIL_SHA256", header="PHONE_SHA256").json()

    assert body["code"] == 40911


def test_file_path_is_private_to_its_advertiser(api: Api) -> None:
    file_path = api.upload_ok(email_hashes(1000), advertiser_id=OTHER_ADVERTISER)

    body = api.create([file_path]).json()

    assert body["code"] == 40910


def test_expired_file_path_is_40910(api: Api, control: Control) -> None:
    file_path = api.upload_ok(email_hashes(1000))
    control.configure(file_ttl_seconds=0)
    time.sleep(0.01)

    assert api.create([file_path]).json()["code"] == 40910


# --------------------------------------------------------------------------- create


def test_create_below_minimum_is_refused(api: Api, control: Control) -> None:
    file_path = api.upload_ok(email_hashes(999))

    body = api.create([file_path]).json()

    assert body["code"] == 40002
    assert "1,000" in body["message"]
    assert control.audiences() == []


def test_create_unions_the_files(api: Api, control: Control) -> None:
    first = api.upload_ok(email_hashes(700))
    second = api.upload_ok(email_hashes(700, start=400))  # 300 overlap

    audience_id = api.create([first, second]).json()["data"]["custom_audience_id"]

    assert control.members(audience_id) == set(email_hashes(1100))
    assert control.audiences()[0]["member_count"] == 1100


def test_minimum_size_counts_distinct_members(api: Api) -> None:
    first = api.upload_ok(email_hashes(600))
    second = api.upload_ok(email_hashes(600, start=300))  # 1,200 rows, 900 distinct

    assert api.create([first, second]).json()["code"] == 40002


def test_create_refuses_files_of_another_calculate_type(api: Api) -> None:
    phone_file = api.upload_ok(email_hashes(1000), "PHONE_SHA256", header="PHONE_SHA256")

    body = api.create([phone_file], "EMAIL_SHA256").json()

    assert body["code"] == 40002
    assert "calculate_type" in body["message"]


def test_multiple_types_file_keeps_members_by_type(api: Api, control: Control) -> None:
    emails, phones = email_hashes(800), email_hashes(800, domain="phone")
    rows = [f"{e},{p}" for e, p in zip(emails, phones, strict=True)]
    file_path = api.upload_ok(rows, "MULTIPLE_TYPES", header="email_sha256,PHONE_SHA256")

    audience_id = api.create([file_path], "MULTIPLE_TYPES").json()["data"]["custom_audience_id"]

    assert control.members(audience_id, "EMAIL_SHA256") == set(emails)
    assert control.members(audience_id, "PHONE_SHA256") == set(phones)


# --------------------------------------------------------------------------- update


@pytest.mark.usefixtures("members_change_freely")
def test_append_adds_members(api: Api, control: Control) -> None:
    audience_id = api.create_ok(email_hashes(1000))
    extra = api.upload_ok(email_hashes(500, start=800))

    assert api.update(audience_id, [extra], "APPEND")["code"] == 0

    assert control.members(audience_id) == set(email_hashes(1300))


@pytest.mark.usefixtures("members_change_freely")
def test_remove_removes_matching_members(api: Api, control: Control) -> None:
    audience_id = api.create_ok(email_hashes(1500))
    leaving = api.upload_ok(email_hashes(400) + email_hashes(10, domain="never-a-member"))

    assert api.update(audience_id, [leaving], "REMOVE")["code"] == 0

    assert control.members(audience_id) == set(email_hashes(1100, start=400))


@pytest.mark.usefixtures("members_change_freely")
def test_replace_swaps_the_whole_set(api: Api, control: Control) -> None:
    audience_id = api.create_ok(email_hashes(1000))
    replacement = api.upload_ok(email_hashes(1200, start=5000))

    assert api.update(audience_id, [replacement], "REPLACE")["code"] == 0

    assert control.members(audience_id) == set(email_hashes(1200, start=5000))


@pytest.mark.usefixtures("members_change_freely")
def test_update_below_minimum_is_refused_and_changes_nothing(api: Api, control: Control) -> None:
    audience_id = api.create_ok(email_hashes(1200))
    too_many = api.upload_ok(email_hashes(201))

    body = api.update(audience_id, [too_many], "REMOVE")

    assert body["code"] == 40002
    assert "1,000" in body["message"]
    assert control.members(audience_id) == set(email_hashes(1200))


def test_update_of_unknown_audience_is_40007(api: Api) -> None:
    file_path = api.upload_ok(email_hashes(1000))

    assert api.update("7300000000999999999", [file_path], "APPEND")["code"] == 40007


@pytest.mark.usefixtures("members_change_freely")
def test_second_replace_within_cooldown_is_refused(api: Api, control: Control) -> None:
    audience_id = api.create_ok(email_hashes(1000))
    first, second = api.upload_ok(email_hashes(1000, start=2000)), api.upload_ok(email_hashes(1000, start=4000))
    assert api.update(audience_id, [first], "REPLACE")["code"] == 0

    body = api.update(audience_id, [second], "REPLACE")

    assert body["code"] == 40002
    assert "unfinished replace" in body["message"]
    assert "once per day" in body["message"]
    assert control.members(audience_id) == set(email_hashes(1000, start=2000))


@pytest.mark.usefixtures("members_change_freely")
def test_replace_cooldown_can_be_disabled(api: Api, control: Control) -> None:
    control.configure(replace_cooldown_seconds=0)
    audience_id = api.create_ok(email_hashes(1000))
    files = [api.upload_ok(email_hashes(1000, start=start)) for start in (2000, 4000)]

    assert [api.update(audience_id, [f], "REPLACE")["code"] for f in files] == [0, 0]


@pytest.mark.usefixtures("members_change_freely")
def test_update_records_history(api: Api) -> None:
    audience_id = api.create_ok(email_hashes(1000))
    api.update(audience_id, [api.upload_ok(email_hashes(10, start=9000))], "APPEND")

    body = api.get(
        "dmp/custom_audience/get/", {"advertiser_id": ADVERTISER, "custom_audience_ids": json.dumps([audience_id])}
    ).json()

    history = body["data"]["list"][0]["audience_history"]
    assert [entry["action"] for entry in history] == ["append", "create"]
    assert {entry["editor"] for entry in history} == {"open_api"}


# --------------------------------------------------------------------------- get, list, delete


def test_get_unknown_id_returns_empty_list(api: Api) -> None:
    body = api.get(
        "dmp/custom_audience/get/",
        {"advertiser_id": ADVERTISER, "custom_audience_ids": json.dumps(["7300000000999999999"])},
    ).json()

    assert body["code"] == 0
    assert body["data"]["list"] == []


def test_list_pages_through_audiences(api: Api) -> None:
    file_path = api.upload_ok(email_hashes(1000))
    created = [api.create([file_path], name=f"audience {i}").json()["data"]["custom_audience_id"] for i in range(3)]

    pages = [
        api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER, "page": page, "page_size": 2}).json()["data"]
        for page in (1, 2)
    ]

    assert pages[0]["page_info"] == {"page": 1, "page_size": 2, "total_number": 3, "total_page": 2}
    listed = [item["audience_id"] for page in pages for item in page["list"]]
    assert sorted(listed) == sorted(created)
    assert pages[0]["list"][0]["audience_type"] == "Customer File Audience"


def test_deleted_audience_disappears(api: Api) -> None:
    audience_id = api.create_ok(email_hashes(1000))

    body = api.post(
        "dmp/custom_audience/delete/", {"advertiser_id": ADVERTISER, "custom_audience_ids": [audience_id]}
    ).json()

    assert (body["code"], body["data"]) == (0, {})
    get = api.get(
        "dmp/custom_audience/get/", {"advertiser_id": ADVERTISER, "custom_audience_ids": json.dumps([audience_id])}
    )
    assert get.json()["data"]["list"] == []


# --------------------------------------------------------------------------- processing & matching


def test_audience_becomes_valid_after_processing_delay(api: Api, control: Control) -> None:
    control.configure(processing_seconds=0.4)
    hashes = email_hashes(2000)
    audience_id = api.create_ok(hashes)

    fresh = api.details(audience_id)
    time.sleep(0.5)
    processed = api.details(audience_id)

    assert (fresh["is_valid"], fresh["cover_num"]) == (False, 0)
    assert processed["is_valid"] is True
    assert processed["cover_num"] == expected_cover(hashes, 0.62)


def test_cover_num_is_deterministic(api: Api, control: Control) -> None:
    control.configure(match_rate=0.5)
    hashes = email_hashes(3000)
    audience_id = api.create_ok(hashes)

    control.post(f"audiences/{audience_id}/finish_processing")

    assert api.details(audience_id)["cover_num"] == expected_cover(hashes, 0.5)


def test_audience_with_too_few_matched_users_stays_invalid(api: Api, control: Control) -> None:
    control.configure(match_rate=0.1)
    audience_id = api.create_ok(email_hashes(2000))

    control.post(f"audiences/{audience_id}/finish_processing")

    details = api.details(audience_id)
    assert details["is_valid"] is False
    assert "matched" in details["msg"]


def test_audience_details_fields(api: Api) -> None:
    audience_id = api.create_ok(email_hashes(1000))

    details = api.details(audience_id)

    assert details["audience_id"] == audience_id
    assert details["type"] == "Customer File Audience"  # get says "type"; list says "audience_type"
    assert "audience_type" not in details
    assert details["audience_sub_type"] == "NORMAL"
    assert details["calculate_type"] == "EMAIL_SHA256"
    assert (details["is_expiring"], details["shared"], details["is_creator"]) == (False, False, True)
    time.strptime(details["create_time"], "%Y-%m-%d %H:%M:%S")
    time.strptime(details["expired_time"], "%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------- faults & throttling


def test_fault_returns_envelope_code_once(api: Api, control: Control) -> None:
    control.fault(path="dmp/custom_audience/list/", code=50000)

    first = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})
    second = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})

    assert (first.status_code, first.json()["code"], first.json()["data"]) == (200, 50000, {})
    assert second.json()["code"] == 0


def test_fault_http_500(api: Api, control: Control) -> None:
    control.fault(path="*", http_status=500)

    response = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})

    assert response.status_code == 500


def test_fault_latency(api: Api, control: Control) -> None:
    control.fault(path="dmp/custom_audience/list", latency_seconds=0.3)

    started = time.monotonic()
    body = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}).json()

    assert time.monotonic() - started >= 0.3
    assert body["code"] == 0


def test_fault_malformed_json(api: Api, control: Control) -> None:
    control.fault(path="dmp/custom_audience/list/", malformed_json=True)

    response = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})

    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_fault_after_processing_applies_the_change(api: Api, control: Control) -> None:
    file_path = api.upload_ok(email_hashes(1000))
    control.fault(path="dmp/custom_audience/create/", http_status=502, after_processing=True)

    response = api.create([file_path])

    assert response.status_code == 502
    assert len(control.audiences()) == 1


def test_rate_limit_is_40100(api: Api, control: Control) -> None:
    control.configure(qps_limit=3)

    codes = [api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}).json() for _ in range(6)]

    limited = [body for body in codes if body["code"] == 40100]
    assert limited, codes
    assert f"App [{APP_ID}]" in limited[0]["message"]
    assert "temporarily restricted" in limited[0]["message"]
    time.sleep(1.05)
    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}).json()["code"] == 0


# --------------------------------------------------------------------------- OAuth & consent page


def _consent(sandbox_url: str, role: str, advertisers: list[str], state: str = "xyz") -> requests.Response:
    return requests.post(
        f"{sandbox_url}/portal/auth",
        data={
            "app_id": APP_ID,
            "state": state,
            "redirect_uri": REDIRECT_URI,
            "role": role,
            "advertiser_ids": advertisers,
        },
        allow_redirects=False,
    )


def test_oauth_code_exchange_is_single_use(api: Api) -> None:
    consent = _consent(api.base_url, "Operator", [OTHER_ADVERTISER], state="s-1")
    assert consent.status_code == 302
    callback = parse_qs(urlsplit(consent.headers["location"]).query)
    assert callback["state"] == ["s-1"] and callback["code"] == callback["auth_code"]
    exchange = {"app_id": APP_ID, "secret": APP_SECRET, "auth_code": callback["auth_code"][0]}

    first = api.post("oauth2/access_token/", exchange, token=None).json()
    second = api.post("oauth2/access_token/", exchange, token=None).json()

    assert first["code"] == 0
    assert first["data"]["advertiser_ids"] == [OTHER_ADVERTISER]
    assert first["data"]["access_token"] != TOKEN
    assert second["code"] == 40110
    new_token = first["data"]["access_token"]
    assert (
        api.get("dmp/custom_audience/list/", {"advertiser_id": OTHER_ADVERTISER}, token=new_token).json()["code"] == 0
    )
    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}, token=new_token).json()["code"] == 40001


def test_oauth_bad_secret_is_40101(api: Api) -> None:
    body = api.post("oauth2/access_token/", {"app_id": APP_ID, "secret": "wrong", "auth_code": "x"}, token=None).json()

    assert body["code"] == 40101


def test_advertiser_get_lists_the_token_advertisers(api: Api) -> None:
    body = api.get("oauth2/advertiser/get/", {"app_id": APP_ID, "secret": APP_SECRET}).json()

    assert body["code"] == 0
    assert [item["advertiser_id"] for item in body["data"]["list"]] == [ADVERTISER, OTHER_ADVERTISER]
    assert all(item["advertiser_name"] for item in body["data"]["list"])


def test_consent_page_refuses_analyst(api: Api) -> None:
    response = _consent(api.base_url, "Analyst", [ADVERTISER])

    assert response.status_code == 403
    assert "Admin or Operator access is required" in response.text
    assert "location" not in response.headers


def test_consent_page_escapes_untrusted_values(api: Api) -> None:
    evil = '"><script>alert(1)</script>'

    response = requests.get(
        f"{api.base_url}/portal/auth", params={"app_id": APP_ID, "state": evil, "redirect_uri": REDIRECT_URI}
    )

    assert response.status_code == 200
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert 'type="checkbox"' in response.text and "Operator" in response.text


# --------------------------------------------------------------------------- Segment (Partner) API


def test_segment_audience_create_truncates_long_names(api: Api) -> None:
    body = api.post(
        "segment/audience/", {"advertiser_id": ADVERTISER, "action": "create", "custom_audience_name": "n" * 80}
    ).json()

    details = api.details(body["data"]["audience_id"])
    assert details["name"] == "n" * 67 + "..."
    assert (details["type"], details["calculate_type"]) == ("Partner", "MULTIPLE_TYPES")


def test_segment_mapping_add_then_delete(api: Api, control: Control) -> None:
    audience_id = api.post(
        "segment/audience/", {"advertiser_id": ADVERTISER, "custom_audience_name": "partner"}
    ).json()["data"]["audience_id"]
    emails, phones = email_hashes(3), email_hashes(3, domain="phone")
    users = [
        [{"id": e, "audience_ids": [audience_id]}, {"id": p, "audience_ids": [audience_id]}]
        for e, p in zip(emails, phones, strict=True)
    ]
    users.append([{"id": sha256_hex("only-email"), "audience_ids": [audience_id]}, {}])
    mapping = {"advertiser_ids": [ADVERTISER], "id_schema": ["EMAIL_SHA256", "phone_sha256"], "batch_data": users}

    added = api.post("segment/mapping/", {**mapping, "action": "add"}).json()
    removed = api.post("segment/mapping/", {**mapping, "action": "delete", "batch_data": users[:1]}).json()

    assert (added["code"], removed["code"]) == (0, 0)
    assert control.members(audience_id, "EMAIL_SHA256") == set(emails[1:]) | {sha256_hex("only-email")}
    assert control.members(audience_id, "PHONE_SHA256") == set(phones[1:])


def test_segment_mapping_rejects_too_many_users(api: Api, control: Control) -> None:
    control.configure(max_mapping_users=5)
    audience_id = api.post("segment/audience/", {"advertiser_id": ADVERTISER, "custom_audience_name": "p"}).json()[
        "data"
    ]["audience_id"]
    users = [[{"id": h, "audience_ids": [audience_id]}] for h in email_hashes(6)]

    body = api.post(
        "segment/mapping/", {"advertiser_ids": [ADVERTISER], "id_schema": ["EMAIL_SHA256"], "batch_data": users}
    ).json()

    assert body["code"] == 40011


def test_segment_mapping_rejects_audience_of_another_advertiser(api: Api) -> None:
    foreign = api.post("segment/audience/", {"advertiser_id": OTHER_ADVERTISER, "custom_audience_name": "p"}).json()[
        "data"
    ]["audience_id"]

    body = api.post(
        "segment/mapping/",
        {
            "advertiser_ids": [ADVERTISER],
            "id_schema": ["EMAIL_SHA256"],
            "batch_data": [[{"id": sha256_hex("a"), "audience_ids": [foreign]}]],
        },
    ).json()

    assert body["code"] == 40002
    assert foreign in body["message"]


def test_segment_mapping_rejects_duplicate_id_schema(api: Api) -> None:
    body = api.post(
        "segment/mapping/",
        {"advertiser_ids": [ADVERTISER], "id_schema": ["EMAIL_SHA256", "email_sha256"], "batch_data": [[{}, {}]]},
    ).json()

    assert body["code"] == 40002
    assert "id_schema" in body["message"]


def test_segment_endpoints_answer_40118_when_partner_access_is_not_enabled(api: Api, control: Control) -> None:
    control.configure(partner_api_enabled=False)

    create = api.post("segment/audience/", {"advertiser_id": ADVERTISER, "custom_audience_name": "p"}).json()
    mapping = api.post(
        "segment/mapping/",
        {"advertiser_ids": [ADVERTISER], "id_schema": ["EMAIL_SHA256"], "batch_data": [[{}]]},
    ).json()

    assert (create["code"], mapping["code"]) == (40118, 40118)
    assert "allowlist" in create["message"] and create["data"] == {}
    assert control.audiences() == []


def test_partner_audiences_are_listed_with_their_type(api: Api) -> None:
    audience_id = api.post(
        "segment/audience/", {"advertiser_id": ADVERTISER, "custom_audience_name": "partner"}
    ).json()["data"]["audience_id"]

    listed = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER, "page_size": 100}).json()

    assert [(a["audience_id"], a["audience_type"]) for a in listed["data"]["list"]] == [(audience_id, "Partner")]


# --------------------------------------------------------------------------- control API


def test_request_log_records_sizes_but_no_bodies(api: Api, control: Control) -> None:
    hashes = email_hashes(5)
    api.upload(hashes)

    log = control.get("requests")

    assert [(entry["method"], entry["path"], entry["status"], entry["code"]) for entry in log] == [
        ("POST", f"{API}/dmp/custom_audience/file/upload/", 200, 0)
    ]
    assert log[0]["request_bytes"] > 5 * 64 and log[0]["response_bytes"] > 0
    assert hashes[0] not in json.dumps(log)


def test_reset_restores_revoked_token(api: Api, control: Control) -> None:
    control.post(f"tokens/{TOKEN}/revoke")
    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}).json()["code"] == 40105

    control.post("reset")

    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}).json()["code"] == 0
