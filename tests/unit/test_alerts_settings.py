"""Alert settings without Airflow: the audience's and the integration's ``alerts`` blocks, and their merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiktok_audiences.definitions import EmailChannel, SlackChannel, alerts, parse_audience_file


def parse(tmp_path: Path, alerts_yaml: str):
    path = tmp_path / "buyers.yaml"
    path.write_text(f"name: Buyers\ninclude_segments: [1]\n{alerts_yaml}")
    return parse_audience_file(path)


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
