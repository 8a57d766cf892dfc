"""Alert rules without Airflow: which events a run produces, message content (settings: test_alerts_settings)."""

from __future__ import annotations

import pytest

from tiktok_audiences.definitions import AlertSettings, EmailChannel, SlackChannel
from tiktok_audiences.sync import alerts
from tiktok_audiences.sync.alerts import AlertContext, RunFacts

BOTH = AlertSettings(email=EmailChannel(to=("ops@example.com",)), slack=SlackChannel("slack_alerts"))


# -- events -----------------------------------------------------------------------------------------


def test_failed_run_is_a_failed_event():
    assert alerts.detect_events(RunFacts(outcome="failed", error="extract_members: boom"), BOTH) == ["failed"]


def test_run_stopped_by_a_busy_audience_is_no_event():
    # TikTok still processing: the run stopped as Syncing (outcome partial) and the next one carries on.
    assert alerts.detect_events(RunFacts(outcome="partial"), BOTH) == []


def test_permanent_tiktok_error_is_a_failed_event_not_auth():
    facts = RunFacts(outcome="failed", error="sync_to_tiktok: TikTok error 40002 on /open_api/v1.3/dmp/custom_audience/"
                                            "update/: Parameter error: file_paths is invalid (request_id 1)")
    assert alerts.detect_events(facts, BOTH) == ["failed"]


def test_auth_failure_is_one_auth_error_event_not_also_failed():
    facts = RunFacts(outcome="failed", error="sync_to_tiktok: TikTok error 40105 ...: re-authenticate the integration "
                                            "'tiktok_default' (Resync integration), then re-run")
    assert alerts.detect_events(facts, BOTH) == ["auth_error"]


def test_stored_error_kind_marks_an_auth_failure_whatever_the_text():
    assert alerts.detect_events(RunFacts(outcome="failed", error="cut off…", error_kind="auth"), BOTH) == ["auth_error"]


def test_auth_failure_falls_back_to_failed_when_only_failed_is_enabled():
    settings = AlertSettings(events=("failed",), slack=SlackChannel())
    assert alerts.detect_events(RunFacts(outcome="failed", error_kind="auth"), settings) == ["failed"]


def test_sync_that_died_without_recording_counts_as_failed():
    assert alerts.detect_events(RunFacts(outcome="running"), BOTH) == ["failed"]


def test_becoming_too_small_is_an_event():
    assert alerts.detect_events(RunFacts(outcome="too_small", previous_outcome="success"), BOTH) == ["too_small"]
    assert alerts.detect_events(RunFacts(outcome="too_small", previous_outcome=None), BOTH) == ["too_small"]


def test_staying_too_small_is_not_a_new_event():
    assert alerts.detect_events(RunFacts(outcome="too_small", previous_outcome="too_small"), BOTH) == []


def test_match_drop_above_the_threshold_is_an_event():
    facts = RunFacts(outcome="success", match_rate=0.55, previous_match_rate=0.70)
    assert alerts.detect_events(facts, BOTH) == ["match_drop"]


def test_match_drop_of_exactly_the_threshold_is_not():
    facts = RunFacts(outcome="success", match_rate=0.60, previous_match_rate=0.70)
    assert facts.match_drop_points == 10.0
    assert alerts.detect_events(facts, BOTH) == []


def test_match_rise_or_unknown_rate_is_not_an_event():
    assert alerts.detect_events(RunFacts(outcome="success", match_rate=0.9, previous_match_rate=0.5), BOTH) == []
    assert alerts.detect_events(RunFacts(outcome="success", match_rate=None, previous_match_rate=0.5), BOTH) == []
    assert alerts.detect_events(RunFacts(outcome="success", match_rate=0.3, previous_match_rate=None), BOTH) == []


def test_threshold_is_configurable():
    facts = RunFacts(outcome="success", match_rate=0.66, previous_match_rate=0.70)
    assert alerts.detect_events(facts, AlertSettings(match_drop_points=3, slack=SlackChannel())) == ["match_drop"]


def test_dry_run_and_successful_runs_without_drop_produce_nothing():
    assert alerts.detect_events(RunFacts(outcome="dry_run"), BOTH) == []
    assert alerts.detect_events(RunFacts(outcome="success", match_rate=0.7, previous_match_rate=0.7), BOTH) == []
    assert alerts.detect_events(RunFacts(outcome=None), BOTH) == []


def test_disabled_event_is_not_reported():
    settings = AlertSettings(events=("match_drop",), slack=SlackChannel())
    assert alerts.detect_events(RunFacts(outcome="failed"), settings) == []


def test_error_kind_recognises_the_reauthenticate_hint():
    assert alerts.error_kind("… re-authenticate the integration 'x' …") == "auth"
    assert alerts.error_kind("segment 99 does not exist") == "other"
    assert alerts.error_kind(None) == "other"


# -- messages ---------------------------------------------------------------------------------------

CTX = AlertContext(audience_name="Buyers", audience_key="buyers", integration="tiktok_default",
                   dag_id="tiktok_audience__buyers", run_id="manual__2026-11-25T03:00:00+00:00", status="Failed")


def test_auth_error_message_carries_the_reauthenticate_hint():
    message = alerts.compose("auth_error", CTX, match_drop_points=10)
    assert "Re-authenticate the integration 'tiktok_default'" in message.text
    assert "Re-authenticate the integration &#x27;tiktok_default&#x27;" in message.html
    assert "needs re-authentication" in message.subject


def test_match_drop_message_shows_before_and_after():
    ctx = AlertContext(**{**CTX.__dict__, "status": "Active", "match_before": 0.8, "match_after": 0.55})
    message = alerts.compose("match_drop", ctx, match_drop_points=10)
    assert "80.0% to 55.0%" in message.subject and "25.0 points" in message.subject
    assert "80.0% before, 55.0% now" in message.text


@pytest.mark.parametrize(("size", "says"), [
    (640, "fewer than 1,000 contacts"),
    (2_500, "TikTok matched fewer than 1,000 of the audience's contacts"),  # the minimum counts matched users
])
def test_too_small_message_says_which_minimum_was_missed(size, says):
    ctx = AlertContext(**{**CTX.__dict__, "status": "Too Small", "size": size})
    message = alerts.compose("too_small", ctx, match_drop_points=10)
    assert says in message.text and f"({size:,} contacts)" in message.subject


def test_message_names_dag_run_and_links_to_it_when_a_base_url_is_known():
    link = alerts.run_link("https://airflow.example.com/", CTX.dag_id, CTX.run_id)
    assert link == ("https://airflow.example.com/dags/tiktok_audience__buyers/runs/"
                    "manual__2026-11-25T03%3A00%3A00%2B00%3A00")
    message = alerts.compose("failed", AlertContext(**{**CTX.__dict__, "link": link}), match_drop_points=10)
    assert CTX.dag_id in message.text and CTX.run_id in message.text and link in message.text
    assert f'href="{link}"' in message.html
    assert alerts.run_link(None, CTX.dag_id, CTX.run_id) is None


def test_error_text_is_scrubbed_of_raw_identifiers():
    error = ("extract_members: the contact database rejected the segment criteria: syntax error at "
             "\"email = 'Jane.Doe@Example.com' OR phone = '+44 7911 123456' OR phone = '07911 123456' "
             "OR maid = '6F9619FF-8B86-D011-B42D-00C04FC964FF'\" (audience 7300000000000000001, request_id 2026ab)")
    message = alerts.compose("failed", AlertContext(**{**CTX.__dict__, "error": error}), match_drop_points=10)
    for raw in ("Jane.Doe@Example.com", "7911 123456", "07911", "6F9619FF-8B86-D011-B42D-00C04FC964FF"):
        assert raw not in message.text and raw not in message.html
    assert "[email removed]" in message.text and "[phone removed]" in message.text
    assert "[device id removed]" in message.text
    assert "7300000000000000001" in message.text  # TikTok's ids are not personal data


def test_names_cannot_inject_slack_mentions_or_html():
    ctx = AlertContext(**{**CTX.__dict__, "audience_name": "<!channel> <b>VIP</b> & co"})
    message = alerts.compose("failed", ctx, match_drop_points=10)
    assert "<!channel>" not in message.text and "&lt;!channel&gt;" in message.text
    assert "<b>VIP</b>" not in message.html
