"""Alert settings: which events an audience is alerted about, and through which channels.

Settings come from two places, merged key by key (:func:`resolve_settings`):

1. the integration — key ``alerts`` in the ``tiktok_ads`` connection's extra — for every audience
   of that integration;
2. the audience file's ``alerts:`` block, whose keys override the integration's.

A channel set to ``false`` in the audience turns the integration's channel off for that audience;
``alerts: false`` turns every alert of the audience off. Which runs produce which event, and the
message of each, are :mod:`tiktok_audiences.sync.alerts`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tiktok_audiences.definitions.model import Problem

FAILED = "failed"
AUTH_ERROR = "auth_error"
TOO_SMALL = "too_small"
MATCH_DROP = "match_drop"
EVENTS: tuple[str, ...] = (FAILED, AUTH_ERROR, TOO_SMALL, MATCH_DROP)
DEFAULT_MATCH_DROP_POINTS = 10.0
DEFAULT_SMTP_CONN_ID = "smtp_default"
DEFAULT_SLACK_CONN_ID = "slack_default"
EMAIL = "email"
SLACK = "slack"
KNOWN_KEYS = ("events", "match_drop_points", EMAIL, SLACK)
_EMAIL_KEYS = ("to", "conn_id", "from_email")
_SLACK_KEYS = ("conn_id",)

_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


@dataclass(frozen=True)
class EmailChannel:
    """Alerts by email through an Airflow SMTP connection.

    :param to: recipients
    :param conn_id: the SMTP connection (conn type ``smtp``)
    :param from_email: sender; when None, the connection's extra ``from_email`` is used
    """

    to: tuple[str, ...]
    conn_id: str = DEFAULT_SMTP_CONN_ID
    from_email: str | None = None


@dataclass(frozen=True)
class SlackChannel:
    """Alerts to a Slack incoming webhook.

    :param conn_id: the Slack incoming-webhook connection (conn type ``slackwebhook``)
    """

    conn_id: str = DEFAULT_SLACK_CONN_ID


@dataclass(frozen=True)
class AlertSettings:
    """The alerts one audience sends, after merging the integration's and the audience's settings."""

    events: tuple[str, ...] = EVENTS
    match_drop_points: float = DEFAULT_MATCH_DROP_POINTS
    email: EmailChannel | None = None
    slack: SlackChannel | None = None

    @property
    def channels(self) -> list[tuple[str, EmailChannel | SlackChannel]]:
        found: list[tuple[str, EmailChannel | SlackChannel]] = []
        if self.email:
            found.append((EMAIL, self.email))
        if self.slack:
            found.append((SLACK, self.slack))
        return found

    @property
    def active(self) -> bool:
        return bool(self.events and self.channels)


def parse_alerts(value: Any, problem: Problem, *, field: str = "alerts") -> dict[str, Any]:
    """Validate an ``alerts`` block; returns it normalized, holding only the keys it sets.

    The result is plain JSON (it travels inside the audience definition) and is what
    :func:`resolve_settings` merges. Problems are reported through ``problem``.
    """
    if value is None:
        return {}
    if value is False:
        return {"events": []}
    if not isinstance(value, Mapping):
        problem(field, "must be a mapping (events, match_drop_points, email, slack) or false",
                "e.g. 'alerts: {events: [failed], email: {to: [ops@example.com]}}'")
        return {}
    block: dict[str, Any] = {}
    for unknown in sorted(set(map(str, value)) - set(KNOWN_KEYS)):
        close = difflib.get_close_matches(unknown, KNOWN_KEYS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys are {', '.join(KNOWN_KEYS)}"
        problem(f"{field}.{unknown}", "is not a known alerts setting", f"remove it or correct the spelling ({hint})")
    if "events" in value:
        block["events"] = _events(value["events"], problem, f"{field}.events")
    if "match_drop_points" in value:
        points = value["match_drop_points"]
        if isinstance(points, bool) or not isinstance(points, (int, float)) or not 0 < points <= 100:
            problem(f"{field}.match_drop_points", f"is {points!r}, not a number of percentage points above 0 "
                    f"and at most 100", "e.g. 'match_drop_points: 10' alerts when the match rate falls by more "
                    "than 10 points between two syncs")
        else:
            block["match_drop_points"] = float(points)
    if EMAIL in value:
        block[EMAIL] = _email(value[EMAIL], problem, f"{field}.{EMAIL}")
    if SLACK in value:
        block[SLACK] = _slack(value[SLACK], problem, f"{field}.{SLACK}")
    return block


def _events(value: Any, problem: Problem, field: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problem(field, "must be a list of events", f"choose from {', '.join(EVENTS)}")
        return list(EVENTS)
    unknown = [v for v in value if v not in EVENTS]
    if unknown:
        problem(field, f"has unknown event(s) {unknown}", f"choose from {', '.join(EVENTS)}")
    return [e for e in EVENTS if e in value]


def _conn_id(channel: Mapping[str, Any], default: str, problem: Problem, field: str, kind: str) -> str:
    conn_id = channel.get("conn_id", default)
    if not isinstance(conn_id, str) or not _CONN_ID.match(conn_id):
        problem(f"{field}.conn_id", f"is {conn_id!r}, not an Airflow connection id",
                f"name the Airflow {kind} connection, e.g. '{default}'")
        return default
    return conn_id


def _unknown_keys(channel: Mapping[str, Any], known: Sequence[str], problem: Problem, field: str) -> None:
    for unknown in sorted(set(map(str, channel)) - set(known)):
        problem(f"{field}.{unknown}", "is not a known setting", f"use {', '.join(known)}")


def _email(value: Any, problem: Problem, field: str) -> dict[str, Any] | bool:
    if value is None or value is False:
        return False
    if not isinstance(value, Mapping):
        problem(field, "must be a mapping with 'to' (and optionally 'conn_id', 'from_email'), or false",
                "e.g. 'email: {conn_id: smtp_default, to: [ops@example.com]}'")
        return False
    _unknown_keys(value, _EMAIL_KEYS, problem, field)
    to = value.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to:
        problem(f"{field}.to", "is missing or empty", "list the recipients, e.g. 'to: [ops@example.com]'")
        to = []
    bad = [a for a in to if not isinstance(a, str) or not _ADDRESS.match(a.strip())]
    if bad:
        problem(f"{field}.to", f"has {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} that "
                f"{'is' if len(bad) == 1 else 'are'} not an email address", "write one address per entry")
    channel: dict[str, Any] = {
        "to": [a.strip() for a in to if isinstance(a, str) and a not in bad],
        "conn_id": _conn_id(value, DEFAULT_SMTP_CONN_ID, problem, field, "SMTP"),
    }
    sender = value.get("from_email")
    if sender is not None:
        if not isinstance(sender, str) or not _ADDRESS.match(sender.strip()):
            problem(f"{field}.from_email", "is not an email address", "e.g. 'from_email: airflow@example.com'")
        else:
            channel["from_email"] = sender.strip()
    return channel


def _slack(value: Any, problem: Problem, field: str) -> dict[str, Any] | bool:
    if value is None or value is False:
        return False
    if value is True:
        return {"conn_id": DEFAULT_SLACK_CONN_ID}
    if not isinstance(value, Mapping):
        problem(field, "must be a mapping with 'conn_id', true or false",
                "e.g. 'slack: {conn_id: slack_tiktok}' (a Slack incoming-webhook connection)")
        return False
    _unknown_keys(value, _SLACK_KEYS, problem, field)
    return {"conn_id": _conn_id(value, DEFAULT_SLACK_CONN_ID, problem, field, "Slack incoming-webhook")}


def parse_integration_alerts(conn_id: str, value: Any) -> tuple[dict[str, Any], list[str]]:
    """The ``alerts`` key of an integration's connection extra; returns ``(block, problems)``.

    A JSON string is accepted too (some connection forms store nested JSON as text).
    """
    problems: list[str] = []

    def problem(field: str | None, message: str, fix: str) -> None:
        problems.append(f"TikTok integration '{conn_id}': connection extra '{field}' {message}. Fix: {fix}")

    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            problem("alerts", "is not valid JSON",
                    "store a JSON object, e.g. {\"email\": {\"to\": [\"ops@example.com\"]}}")
            return {}, problems
    return parse_alerts(value, problem), problems


def resolve_settings(integration: Mapping[str, Any] | None, audience: Mapping[str, Any] | None) -> AlertSettings:
    """Merge defaults, then the integration's block, then the audience's block, key by key.

    Both blocks are :func:`parse_alerts` results. A channel given as ``False`` removes that
    channel; ``events: []`` silences the audience.
    """
    merged: dict[str, Any] = {}
    for block in (integration or {}, audience or {}):
        merged.update(block)
    email = merged.get(EMAIL) or None
    slack = merged.get(SLACK) or None
    return AlertSettings(
        events=tuple(e for e in EVENTS if e in merged.get("events", EVENTS)),
        match_drop_points=float(merged.get("match_drop_points", DEFAULT_MATCH_DROP_POINTS)),
        email=EmailChannel(to=tuple(email["to"]), conn_id=email.get("conn_id", DEFAULT_SMTP_CONN_ID),
                           from_email=email.get("from_email")) if email and email.get("to") else None,
        slack=SlackChannel(conn_id=slack.get("conn_id", DEFAULT_SLACK_CONN_ID)) if slack else None,
    )
