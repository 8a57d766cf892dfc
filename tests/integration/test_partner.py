"""Partner mode (TikTok's Audience Segment API) beyond the core sync tests, which run in both modes.

Access not enabled for the app, switching an audience's mode, a create whose answer was lost,
batch sizes, and a full resync without REPLACE.
"""

from __future__ import annotations

import math

import pytest

from tests.integration.conftest import set_integration_api
from tests.integration.contacts import ContactDatabase, expected_identifiers

pytestmark = pytest.mark.integration


@pytest.fixture
def contacts(audience_env) -> ContactDatabase:
    db = ContactDatabase(audience_env.contacts)
    db.add_contacts(range(1, 1401))
    db.add_segment(1, "First 1300", criteria="contact_id <= 1300")
    return db


def define(audience_env, **overrides) -> None:
    audience_env.write_audience("fans", **{"name": "Fans", "include_segments": [1], **overrides})


def members(audience_env) -> set[tuple[str, str]]:
    return audience_env.sandbox.members(audience_env.audience_row("fans")["tiktok_audience_id"])


def live_audiences(audience_env) -> list[dict]:
    return [a for a in audience_env.sandbox.audiences() if not a["deleted"]]


def requests_to(audience_env, path: str) -> list[dict]:
    return [r for r in audience_env.sandbox.control("GET", "requests") if path in r["path"]]


def test_app_without_partner_access_fails_at_once_saying_how_to_fix_it(audience_env, contacts):
    audience_env.sandbox.control("POST", "config", json={"partner_api_enabled": False})
    define(audience_env, api="partner")
    assert audience_env.run("fans").state == "failed"
    row = audience_env.audience_row("fans")
    assert row["status"] == "Failed"
    message = row["status_message"]
    assert "40118" in message and "not enabled for this TikTok app" in message
    assert "allowlist" in message and "api: customer_file" in message
    assert len(requests_to(audience_env, "segment/audience")) == 1  # no retries
    assert live_audiences(audience_env) == []


def test_switching_an_audience_to_partner_creates_a_new_audience_and_says_so(audience_env, contacts):
    define(audience_env)  # the integration's default: customer files
    assert audience_env.run("fans").state == "success"
    old_id = audience_env.audience_row("fans")["tiktok_audience_id"]

    define(audience_env, api="partner")  # the audience file overrides the integration
    contacts.execute("UPDATE segments SET criteria = 'contact_id <= 1350' WHERE segment_id = 1")
    assert audience_env.run("fans").state == "success"
    row = audience_env.audience_row("fans")
    assert row["tiktok_audience_id"] != old_id and row["api"] == "partner"
    assert f"customer-file API audience {old_id} is left untouched" in row["status_message"]
    # Partner audiences get E.164 phones, customer files digits (docs/identifiers.md).
    assert members(audience_env) == expected_identifiers(range(1, 1351), phone_format="e164")
    assert audience_env.sandbox.members(old_id) == expected_identifiers(range(1, 1301), phone_format="digits")
    assert {a["audience_type"] for a in live_audiences(audience_env)} == {"Customer File Audience", "Partner"}


def test_integration_level_partner_setting_is_overridden_by_the_audience_file(audience_env, contacts, monkeypatch):
    set_integration_api(monkeypatch, "partner")
    define(audience_env, api="customer_file")
    assert audience_env.run("fans").state == "success"
    assert [a["audience_type"] for a in live_audiences(audience_env)] == ["Customer File Audience"]
    assert requests_to(audience_env, "segment/") == []


def test_lost_answer_to_a_create_is_adopted_not_duplicated(audience_env, api, contacts):
    define(audience_env)
    # TikTok creates the audience, then the answer is lost.
    path = {"customer_file": "dmp/custom_audience/create/", "partner": "segment/audience/"}[api]
    audience_env.sandbox.fault(path=path, code=50002, after_processing=True)
    assert audience_env.run("fans").state == "failed"
    [created] = live_audiences(audience_env)
    assert audience_env.run("fans").state == "success"
    row = audience_env.audience_row("fans")
    assert row["tiktok_audience_id"] == created["audience_id"]
    assert "adopted TikTok audience" in row["status_message"]
    assert len(live_audiences(audience_env)) == 1
    assert members(audience_env) == expected_identifiers(range(1, 1301))


def test_mapping_requests_carry_at_most_the_batch_size(audience_env, contacts, monkeypatch):
    audience_env.sandbox.control("POST", "config", json={"max_mapping_users": 500})  # larger batches get 40011
    monkeypatch.setenv("TIKTOK_AUDIENCES_BATCH_SIZE", "500")
    define(audience_env, api="partner")
    assert audience_env.run("fans").state == "success"
    expected = expected_identifiers(range(1, 1301), phone_format="e164")
    assert members(audience_env) == expected
    mappings = requests_to(audience_env, "segment/mapping")
    assert len(mappings) == math.ceil(len(expected) / 500) and all(r["code"] == 0 for r in mappings)


def test_partner_full_resync_re_adds_everyone_and_sends_no_replace(audience_env, contacts):
    define(audience_env, api="partner")
    assert audience_env.run("fans").state == "success"
    audience_id = audience_env.audience_row("fans")["tiktok_audience_id"]
    lost = sorted(members(audience_env))[:25]  # members TikTok lost without us knowing
    _map(audience_env, audience_id, "delete", lost)
    contacts.execute("UPDATE segments SET criteria = 'contact_id BETWEEN 11 AND 1300' WHERE segment_id = 1")
    audience_env.sandbox.control("DELETE", "requests")
    assert audience_env.run("fans", full_resync=True).state == "success"
    assert members(audience_env) == expected_identifiers(range(11, 1301), phone_format="e164")
    assert audience_env.audience_row("fans")["tiktok_audience_id"] == audience_id
    assert requests_to(audience_env, "dmp/custom_audience/update") == []
    assert requests_to(audience_env, "file/upload") == []


def _map(audience_env, audience_id: str, action: str, identifiers) -> None:
    import requests

    from tiktok_sandbox.config import SandboxConfig

    config = SandboxConfig()
    schema = {"email": "EMAIL_SHA256", "phone": "PHONE_SHA256", "maid": "IDFA_SHA256"}
    types = sorted({t for t, _ in identifiers})
    batch = [[{"id": h, "audience_ids": [audience_id]} if t == u else {} for u in types] for t, h in identifiers]
    response = requests.post(
        f"{audience_env.sandbox.url}/open_api/v1.3/segment/mapping/",
        json={"advertiser_ids": [config.advertiser_ids[0]], "action": action,
              "id_schema": [schema[t] for t in types], "batch_data": batch},
        headers={"Access-Token": config.access_token},
        timeout=10,
    )
    assert response.json()["code"] == 0, response.json()


def test_dry_run_of_a_mode_switch_says_so_and_keeps_the_old_audience(audience_env, contacts):
    define(audience_env)
    assert audience_env.run("fans").state == "success"
    old_id = audience_env.audience_row("fans")["tiktok_audience_id"]
    define(audience_env, api="partner")
    assert audience_env.run("fans", dry_run=True).state == "success"
    row = audience_env.audience_row("fans")
    assert row["tiktok_audience_id"] == old_id and row["api"] == "customer_file"
    assert "would get a new TikTok audience" in audience_env.store().run_history("fans")[0]["message"]
    assert len(live_audiences(audience_env)) == 1


def test_partner_integration_refuses_a_digits_phone_format_before_anything_is_sent(audience_env, contacts,
                                                                                   monkeypatch):
    """The Audience Segment API documents phones only as E.164 with "+" (docs/identifiers.md)."""
    set_integration_api(monkeypatch, "partner")
    define(audience_env, normalization={"phone_format": "digits"})
    assert audience_env.run("fans").state == "failed"
    assert live_audiences(audience_env) == []
    assert requests_to(audience_env, "segment/") == []
