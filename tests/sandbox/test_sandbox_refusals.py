"""TikTok's two audience refusals of an update (40002), as the sandbox plays them over HTTP.

TikTok's return-code appendix lists, for 40002, "The audience is currently being updated or under
processing." and "The audience was created with an audience size of 0 (less than 1000 matches were
found)." (api-evangelist/tiktok-ads errors/tiktok-ads-error-codes.yml).
"""

from __future__ import annotations

from tests.sandbox.test_sandbox_server import Api, Control, email_hashes
from tiktok_sandbox.errors import BUSY_MESSAGE, TOO_FEW_MATCHES_MESSAGE


def test_update_while_processing_is_refused_busy_and_changes_nothing(api: Api, control: Control) -> None:
    control.configure(processing_seconds=3600, match_rate=1.0)
    audience_id = api.create_ok(email_hashes(1000))
    extra = api.upload_ok(email_hashes(10, start=5000))
    body = api.update(audience_id, [extra], "APPEND")
    assert (body["code"], body["message"]) == (40002, BUSY_MESSAGE)
    assert len(control.members(audience_id)) == 1000
    control.post(f"audiences/{audience_id}/finish_processing")
    assert api.update(audience_id, [extra], "APPEND")["code"] == 0  # processed: accepted
    assert len(control.members(audience_id)) == 1010
    # That APPEND opened a new processing window: a REMOVE right after it is refused in turn.
    assert api.update(audience_id, [extra], "REMOVE")["message"] == BUSY_MESSAGE


def test_busy_rule_can_be_turned_off(api: Api, control: Control) -> None:
    control.configure(processing_seconds=3600, match_rate=1.0, busy_while_processing=False)
    audience_id = api.create_ok(email_hashes(1000))
    assert api.update(audience_id, [api.upload_ok(email_hashes(10, start=5000))], "APPEND")["code"] == 0


def test_audience_created_with_too_few_matches_refuses_updates(api: Api, control: Control) -> None:
    control.configure(processing_seconds=0, match_rate=0.5)  # about 600 of 1,200 hashes match
    audience_id = api.create_ok(email_hashes(1200))
    assert api.details(audience_id)["is_valid"] is False
    for action in ("APPEND", "REMOVE", "REPLACE"):
        body = api.update(audience_id, [api.upload_ok(email_hashes(2000, start=5000))], action)
        assert (body["code"], body["message"]) == (40002, TOO_FEW_MATCHES_MESSAGE), action
    assert len(control.members(audience_id)) == 1200  # nothing changed


def test_valid_audience_keeps_taking_updates_and_the_rule_can_be_turned_off(api: Api, control: Control) -> None:
    control.configure(processing_seconds=0, match_rate=1.0)
    valid = api.create_ok(email_hashes(1000))
    assert api.update(valid, [api.upload_ok(email_hashes(10, start=5000))], "APPEND")["code"] == 0
    control.configure(match_rate=0.5, refuse_updates_when_unmatched=False)
    unmatched = api.create_ok(email_hashes(1200, start=20000))
    assert api.update(unmatched, [api.upload_ok(email_hashes(10, start=30000))], "APPEND")["code"] == 0


def test_refusal_faults_answer_in_tiktoks_words(api: Api, control: Control) -> None:
    control.configure(processing_seconds=0, match_rate=1.0)
    audience_id = api.create_ok(email_hashes(1000))
    extra = api.upload_ok(email_hashes(10, start=5000))
    control.fault(path="dmp/custom_audience/update/", refusal="busy", times=1)
    control.fault(path="dmp/custom_audience/update/", refusal="too_few_matches", times=1)
    assert (api.update(audience_id, [extra], "APPEND")["message"]) == BUSY_MESSAGE
    assert (api.update(audience_id, [extra], "APPEND")["message"]) == TOO_FEW_MATCHES_MESSAGE
    assert api.update(audience_id, [extra], "APPEND")["code"] == 0
