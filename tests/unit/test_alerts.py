"""Alert rules without Airflow: settings, the merge, which events a run produces, message content."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiktok_audiences.definitions import parse_audience_file
from tiktok_audiences.sync import alerts
from tiktok_audiences.sync.alerts import AlertContext, AlertSettings, EmailChannel, RunFacts, SlackChannel

BOTH = AlertSettings(email=EmailChannel(to=("ops@example.com",)), slack=SlackChannel("slack_alerts"))


def parse(tmp_path: Path, alerts_yaml: str):
    path = tmp_path / "buyers.yaml"
    path.write_text(f"name: Buyers\ninclude_segments: [1]\n{alerts_yaml}")
    return parse_audience_file(path)


# -- configuration ---------------------------------------------------------------------------------


def test_audience_alerts_block_is_validated_and_normalized(tmp_path):
    definition, problems = parse(tmp_path, "alerts:\n  events: [failed, match_drop]\n  match_drop_points: 5\n"
                                           "  email: {to: ops@example.com}\n  slack: {conn_id: slack_tiktok}\n")
    assert problems == []
    assert definition.alerts == {
        "events": ["failed", "match_drop"],
        "match_drop_points": 5.0,
        "email": {"to": ["ops@example.com"], "conn_id": "smtp_default"},
        "slack": {"conn_id": "slack_tiktok"},
    }
    assert definition.as_dict()["alerts"] == definition.alerts


def test_unknown_event_names_file_field_and_fix(tmp_path):
    definition, problems = parse(tmp_path, "alerts:\n  events: [failed, too_big]\n")
    assert definition is None
    [problem] = map(str, problems)
    assert "buyers.yaml" in problem and "'alerts.events'" in problem and "too_big" in problem and "Fix:" in problem


def test_misspelled_alerts_key_suggests_the_intended_one(tmp_path):
    _, problems = parse(tmp_path, "alerts:\n  match_drop_point: 5\n")
    assert "did you mean 'match_drop_points'" in str(problems[0])


@pytest.mark.parametrize("points", ["0", "-3", "101", "'ten'", "true"])
def test_match_drop_points_must_be_a_positive_number_of_points(tmp_path, points):
    _, problems = parse(tmp_path, f"alerts:\n  match_drop_points: {points}\n")
    assert "'alerts.match_drop_points'" in str(problems[0])


def test_email_without_recipients_is_refused(tmp_path):
    _, problems = parse(tmp_path, "alerts:\n  email: {conn_id: smtp_default}\n")
    assert "'alerts.email.to'" in str(problems[0]) and "is missing" in str(problems[0])


def test_bad_recipient_is_refused_without_echoing_it(tmp_path):
    _, problems = parse(tmp_path, "alerts:\n  email: {to: [ops@example.com, not-an-address]}\n")
    [problem] = map(str, problems)
    assert "'alerts.email.to'" in problem and "not an email address" in problem


def test_no_alerts_block_means_no_settings_of_its_own(tmp_path):
    definition, problems = parse(tmp_path, "")
    assert problems == [] and definition.alerts == {}


def test_integration_settings_apply_when_the_audience_sets_none():
    integration, problems = alerts.parse_integration_alerts(
        "tiktok_default", {"email": {"to": ["ops@example.com"]}, "match_drop_points": 15}
    )
    assert problems == []
    settings = alerts.resolve_settings(integration, {})
    assert settings.email == EmailChannel(to=("ops@example.com",))
    assert settings.match_drop_points == 15.0
    assert settings.events == alerts.EVENTS
    assert settings.slack is None


def test_audience_keys_override_the_integration_and_keep_the_rest():
    integration, _ = alerts.parse_integration_alerts(
        "tiktok_default", {"email": {"to": ["ops@example.com"]}, "slack": {"conn_id": "slack_ops"}}
    )
    audience = alerts.parse_alerts({"email": {"to": ["team@example.com"]}, "events": ["failed"]}, _fail)
    settings = alerts.resolve_settings(integration, audience)
    assert settings.email.to == ("team@example.com",)
    assert settings.slack == SlackChannel("slack_ops")
    assert settings.events == ("failed",)


def test_audience_can_turn_off_a_channel_of_the_integration():
    integration, _ = alerts.parse_integration_alerts(
        "tiktok_default", {"email": {"to": ["ops@example.com"]}, "slack": {"conn_id": "slack_ops"}}
    )
    settings = alerts.resolve_settings(integration, alerts.parse_alerts({"slack": False}, _fail))
    assert settings.slack is None and settings.email is not None


def test_alerts_false_silences_the_audience():
    integration, _ = alerts.parse_integration_alerts("tiktok_default", {"email": {"to": ["ops@example.com"]}})
    assert not alerts.resolve_settings(integration, alerts.parse_alerts(False, _fail)).active


def test_invalid_integration_alerts_name_the_connection():
    _, problems = alerts.parse_integration_alerts("tiktok_eu", '{"events": ["nope"]}')
    assert problems and "TikTok integration 'tiktok_eu'" in problems[0] and "'alerts.events'" in problems[0]


def _fail(field, message, fix):
    raise AssertionError(f"{field}: {message}")


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
