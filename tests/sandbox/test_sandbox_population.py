"""cover_num counts matched TikTok *users*, not hashes (tiktok_sandbox.population).

TikTok's list/get docs define cover_num as "覆盖人数，即TikTok上匹配的用户人数", the number of
matched users on TikTok (bububa/tiktok-business model/dmp/customaudience/list.go, a translation of
TikTok's Chinese docs). A person's email, phone and mobile ad id are one user.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests

from tests.sandbox.test_sandbox_server import ADVERTISER, Api, Control, expected_cover, sha256_hex

HEADER = "EMAIL_SHA256,PHONE_SHA256,MAID_SHA256"


def person(i: int) -> dict[str, str]:
    """Hashes of person i's identifiers, as a client would send them."""
    phone = f"1415555{i:04d}"
    return {
        "email": sha256_hex(f"person{i}@example.com"),
        "phone_e164": sha256_hex(f"+{phone}"),
        "phone_digits": sha256_hex(phone),
        "maid": sha256_hex(f"00000000-0000-4000-8000-{i:012d}"),
    }


def register(control: Control, people: list[dict[str, str]], kinds: tuple[str, ...] | None = None) -> Any:
    kinds = kinds or ("email", "phone_e164", "phone_digits", "maid")
    return control.post("population", {"id_schema": list(kinds), "users": [[p.get(k) for k in kinds] for p in people]})


def on_tiktok(hashes: list[str], match_rate: float) -> bool:
    """The documented rule, written independently: a user is on TikTok iff its smallest hash draws below the rate."""
    return int(hashlib.sha256(min(hashes).encode()).hexdigest()[:8], 16) / 2**32 < match_rate


def file_rows(people: list[dict[str, str]], phone: str = "phone_e164") -> list[str]:
    return [f"{p['email']},{p[phone]},{p['maid']}" for p in people]


def create(api: Api, rows: list[str], header: str = HEADER) -> str:
    path = api.upload_ok(rows, "MULTIPLE_TYPES", header=header)
    body = api.create([path], "MULTIPLE_TYPES").json()
    assert body["code"] == 0, body
    return str(body["data"]["custom_audience_id"])


def cover(api: Api, control: Control, audience_id: str) -> int:
    control.post(f"audiences/{audience_id}/finish_processing")
    return int(api.details(audience_id)["cover_num"])


def listed_cover(api: Api, audience_id: str) -> int:
    body = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER,
                                                "custom_audience_ids": json.dumps([audience_id])}).json()
    return int(body["data"]["list"][0]["cover_num"])


@pytest.fixture(autouse=True)
def _small_audiences(control: Control) -> None:
    # The matching rules are the subject here, not TikTok's 1,000-record minimum.
    control.configure(min_audience_size=1)


def test_a_user_with_email_phone_and_maid_counts_once(api: Api, control: Control) -> None:
    people = [person(i) for i in range(300)]
    register(control, people)
    control.configure(match_rate=1.0)
    audience_id = create(api, file_rows(people))
    assert control.get("audiences")[0]["member_count"] == 900
    assert cover(api, control, audience_id) == 300
    assert listed_cover(api, audience_id) == 300


def test_users_not_on_tiktok_count_zero(api: Api, control: Control) -> None:
    people = [person(i) for i in range(400)]
    register(control, people)
    control.configure(match_rate=0.4)
    audience_id = create(api, file_rows(people))
    expected = sum(on_tiktok(list(p.values()), 0.4) for p in people)
    assert 100 < expected < 220  # about 40 %: the rule really splits the population
    assert cover(api, control, audience_id) == expected

    control.configure(match_rate=0.0)  # nobody is on TikTok
    assert cover(api, control, audience_id) == 0


def test_hashes_outside_a_registered_population_match_nobody(api: Api, control: Control) -> None:
    people = [person(i) for i in range(50)]
    register(control, people)
    control.configure(match_rate=1.0)
    strangers = [sha256_hex(f"stranger{i}@example.com") for i in range(50)]
    audience_id = api.create_ok([p["email"] for p in people] + strangers)
    assert cover(api, control, audience_id) == 50


def test_without_a_population_each_hash_is_its_own_user(api: Api, control: Control) -> None:
    control.configure(match_rate=0.5)
    people = [person(i) for i in range(200)]
    audience_id = create(api, file_rows(people))
    sent = [p[k] for p in people for k in ("email", "phone_e164", "maid")]
    assert cover(api, control, audience_id) == expected_cover(sent, 0.5)
    assert control.get("population")["users"] == 0


def test_registering_one_hash_users_changes_nothing(api: Api, control: Control) -> None:
    control.configure(match_rate=0.5)
    hashes = [sha256_hex(f"solo{i}@example.com") for i in range(300)]
    audience_id = api.create_ok(hashes)
    before = cover(api, control, audience_id)
    register(control, [{"email": h} for h in hashes], ("email",))
    assert cover(api, control, audience_id) == before == expected_cover(hashes, 0.5)


def test_registering_re_matches_existing_audiences_and_clearing_restores_the_fallback(
    api: Api, control: Control
) -> None:
    control.configure(match_rate=1.0)
    people = [person(i) for i in range(100)]
    audience_id = create(api, file_rows(people))
    assert cover(api, control, audience_id) == 300  # one user per hash
    register(control, people)
    assert api.details(audience_id)["cover_num"] == 100  # settled audiences show it at once
    requests.delete(f"{control.base_url}/population", timeout=10).raise_for_status()
    assert api.details(audience_id)["cover_num"] == 300


def test_groups_sharing_an_identifier_are_one_user(api: Api, control: Control) -> None:
    control.configure(match_rate=1.0)
    alice, bob = person(1), person(2)
    shared = {**bob, "email": alice["email"]}  # the same mailbox: one TikTok account
    register(control, [alice, shared])
    assert control.get("population")["users"] == 1
    audience_id = create(api, file_rows([alice, bob]))
    assert cover(api, control, audience_id) == 1


def test_phone_hash_forms_follow_the_setting(api: Api, control: Control) -> None:
    people = [person(i) for i in range(100)]
    register(control, people)
    control.configure(match_rate=1.0)
    digits = api.create_ok([p["phone_digits"] for p in people], "PHONE_SHA256")
    e164 = api.create_ok([p["phone_e164"] for p in people], "PHONE_SHA256")
    assert control.get("config")["phone_match_forms"] == ["e164", "digits"]  # both, as TikTok documents
    assert (cover(api, control, digits), cover(api, control, e164)) == (100, 100)

    control.configure(phone_match_forms=["e164"])
    assert (api.details(digits)["cover_num"], api.details(e164)["cover_num"]) == (0, 100)


def test_a_user_leaves_the_count_with_its_last_hash(api: Api, control: Control) -> None:
    people = [person(i) for i in range(20)]
    register(control, people)
    control.configure(match_rate=1.0, replace_cooldown_seconds=0)
    audience_id = create(api, file_rows(people))
    assert cover(api, control, audience_id) == 20

    emails = api.upload_ok([p["email"] for p in people[:5]], "MULTIPLE_TYPES", header="EMAIL_SHA256")
    assert api.update(audience_id, [emails], "REMOVE")["code"] == 0
    assert cover(api, control, audience_id) == 20  # their phones and MAIDs still reach them

    rest = api.upload_ok(file_rows(people[:5]), "MULTIPLE_TYPES", header=HEADER)
    assert api.update(audience_id, [rest], "REMOVE")["code"] == 0
    assert cover(api, control, audience_id) == 15

    assert api.update(audience_id, [rest], "APPEND")["code"] == 0
    assert cover(api, control, audience_id) == 20


def test_partner_mapping_counts_users(api: Api, control: Control) -> None:
    people = [person(i) for i in range(10)]
    register(control, people)
    control.configure(match_rate=1.0)
    body = api.post("segment/audience/", {"advertiser_id": ADVERTISER, "action": "create",
                                          "custom_audience_name": "Partner users"}).json()
    audience_id = str(body["data"]["audience_id"])
    batch = [[{"id": p["email"], "audience_ids": [audience_id]}, {"id": p["phone_e164"], "audience_ids": [audience_id]},
              {"id": p["maid"], "audience_ids": [audience_id]}] for p in people]
    answer = api.post("segment/mapping/", {"advertiser_ids": [ADVERTISER], "action": "add",
                                           "id_schema": ["EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256"],
                                           "batch_data": batch}).json()
    assert answer["code"] == 0, answer
    assert cover(api, control, audience_id) == 10


@pytest.mark.parametrize(
    "body",
    [
        {"id_schema": ["email", "email"], "users": []},
        {"id_schema": ["fax"], "users": [["0" * 64]]},
        {"id_schema": ["email"], "users": [["not-a-hash"]]},
        {"id_schema": ["email", "maid"], "users": [["0" * 64]]},
        {"id_schema": ["email"], "users": [["person@example.com"]]},  # raw identifiers are refused
    ],
)
def test_a_bad_registration_is_refused_whole(control: Control, body: dict[str, Any]) -> None:
    register(control, [person(1)])
    response = requests.post(f"{control.base_url}/population", json=body, timeout=10)
    assert response.status_code == 422
    assert control.get("population")["users"] == 1


def test_reset_forgets_the_population(control: Control) -> None:
    register(control, [person(1), person(2)])
    assert control.get("population")["users"] == 2
    control.post("reset")
    assert control.get("population") == {
        "users": 0,
        "identifiers": {"email": 0, "phone_e164": 0, "phone_digits": 0, "maid": 0, "maid_md5": 0},
        "phone_match_forms": ["e164", "digits"],
    }
