"""Failure alerts: their settings, which events a run produces, and the message of each event.

Pure Python (no Airflow import): the audience file parser, the notify task
(:mod:`tiktok_audiences.operators.alerts`) and the unit tests share these rules.

Settings come from two places, merged key by key (:func:`resolve_settings`):

1. the integration — key ``alerts`` in the ``tiktok_ads`` connection's extra — for every audience
   of that integration;
2. the audience file's ``alerts:`` block, whose keys override the integration's.

A channel set to ``false`` in the audience turns the integration's channel off for that audience;
``alerts: false`` turns every alert of the audience off.

Events (one message per event and channel, however often the task is retried or re-run):

``failed``      the run failed (any task: extract, sync);
``auth_error``  the run failed because TikTok refused the integration's token; the message carries
                the re-authenticate hint. Sent *instead of* ``failed`` (one incident, one message),
                or as ``failed`` when only ``failed`` is enabled;
``too_small``   the audience became Too Small (the previous completed sync was not Too Small);
``match_drop``  the match rate fell more than ``match_drop_points`` percentage points since the
                previous successful sync that had a match rate.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

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

#: Written by :func:`tiktok_audiences.tiktok.errors.error_for_code` into every TikTok auth error.
REAUTH_MARKER = "re-authenticate the integration"
#: Error kinds stored with a failed run (``tiktok_sync_runs.error_kind``).
ERROR_KIND_AUTH = "auth"
ERROR_KIND_OTHER = "other"

_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")

#: ``problem(field, message, fix)``, as in :mod:`tiktok_audiences.definitions.validation`.
Problem = Callable[[str | None, str, str], None]


# -- settings ---------------------------------------------------------------------------------------


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
    import json

    problems: list[str] = []

    def problem(field: str | None, message: str, fix: str) -> None:
        problems.append(f"TikTok integration '{conn_id}': connection extra '{field}' {message}. Fix: {fix}")

    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            problem("alerts", "is not valid JSON", "store a JSON object, e.g. {\"email\": {\"to\": [\"ops@example.com\"]}}")
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


# -- events ---------------------------------------------------------------------------------------------


def error_kind(message: str | None) -> str:
    """``auth`` for an error that needs the integration re-authenticated, else ``other``."""
    return ERROR_KIND_AUTH if message and REAUTH_MARKER in message else ERROR_KIND_OTHER


@dataclass(frozen=True)
class RunFacts:
    """What the metadata database says about one run of an audience, as the events need it.

    :param outcome: this run's outcome in ``tiktok_sync_runs`` (success, too_small, dry_run,
        failed, running), None when the run recorded nothing
    :param error: this run's error message (failed runs)
    :param error_kind: ``auth`` / ``other`` as stored by the failure callback, if any
    :param match_rate: this run's match rate (successful runs with a valid TikTok audience)
    :param previous_outcome: outcome of the latest earlier run that completed a sync
        (success or too_small)
    :param previous_match_rate: match rate of the latest earlier successful run that had one
    """

    outcome: str | None
    error: str | None = None
    error_kind: str | None = None
    match_rate: float | None = None
    previous_outcome: str | None = None
    previous_match_rate: float | None = None

    @property
    def match_drop_points(self) -> float | None:
        """How many percentage points the match rate fell since the previous sync (negative: rose)."""
        if self.match_rate is None or self.previous_match_rate is None:
            return None
        return round((self.previous_match_rate - self.match_rate) * 100, 6)


def detect_events(facts: RunFacts, settings: AlertSettings) -> list[str]:
    """The events of this run that the settings ask to be told about, in :data:`EVENTS` order."""
    enabled = set(settings.events)
    found: list[str] = []
    # "running" after the sync finished means its task died without recording (killed, timed out).
    if facts.outcome in ("failed", "running"):
        auth = facts.error_kind == ERROR_KIND_AUTH or error_kind(facts.error) == ERROR_KIND_AUTH
        if auth and AUTH_ERROR in enabled:
            found.append(AUTH_ERROR)
        elif FAILED in enabled:
            found.append(FAILED)
    elif facts.outcome == "too_small":
        if TOO_SMALL in enabled and facts.previous_outcome != "too_small":
            found.append(TOO_SMALL)
    elif facts.outcome == "success":
        drop = facts.match_drop_points
        if MATCH_DROP in enabled and drop is not None and drop > settings.match_drop_points:
            found.append(MATCH_DROP)
    return sorted(found, key=EVENTS.index)


# -- messages -------------------------------------------------------------------------------------------

_EMAIL_PATTERN = re.compile(r"[^\s@<>()\[\]'\",;:]+@[^\s@<>()\[\]'\",;:]+\.[A-Za-z]{2,}")
_UUID_PATTERN = re.compile(r"\b[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}\b")
# International (+44 7911 123456) and national (07911 123456) phone numbers; plain long digit
# runs (TikTok audience and request ids) are left alone.
_PHONE_PATTERN = re.compile(r"(?<![\w+])(?:\+\d[\d ().-]{5,18}\d|\b0\d{2,4}[ .-]?\d{3,4}[ .-]?\d{3,4})(?!\w)")


def scrub(text: str) -> str:
    """``text`` with anything that looks like an email address, phone number or MAID replaced.

    Error messages can quote data (a database error citing a value, a segment criteria); alerts
    leave the process and must never carry a raw identifier.
    """
    text = _EMAIL_PATTERN.sub("[email removed]", text)
    text = _UUID_PATTERN.sub("[device id removed]", text)
    return _PHONE_PATTERN.sub("[phone removed]", text)


@dataclass(frozen=True)
class AlertContext:
    """What a message may tell: names, ids of Airflow objects, counts and rates — never identifiers."""

    audience_name: str
    audience_key: str
    integration: str
    dag_id: str
    run_id: str
    status: str | None = None
    size: int | None = None
    added: int | None = None
    removed: int | None = None
    match_before: float | None = None
    match_after: float | None = None
    error: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class AlertMessage:
    subject: str
    text: str  # plain text with Slack mrkdwn escaping
    html: str  # for email


def run_link(base_url: str | None, dag_id: str, run_id: str) -> str | None:
    """The Airflow UI page of a DAG run, when the API server's base URL is known."""
    if not base_url or "://" not in base_url:
        return None
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _percent(rate: float | None) -> str:
    return "unknown" if rate is None else f"{rate * 100:.1f}%"


def compose(event: str, ctx: AlertContext, *, match_drop_points: float) -> AlertMessage:
    """The message of one event: a subject and the same lines as Slack text and as email HTML."""
    name = ctx.audience_name
    error = scrub(ctx.error) if ctx.error else None
    if event == AUTH_ERROR:
        subject = f"TikTok audience '{name}': integration '{ctx.integration}' needs re-authentication"
        lead = "The sync failed because TikTok refused the integration's access token."
        hint = (f"Re-authenticate the integration '{ctx.integration}' (Audiences page > Integrations > "
                f"Resync integration, or 'tiktok-audiences integration setup'), then re-run the audience.")
    elif event == FAILED:
        subject = f"TikTok audience '{name}' failed to sync"
        lead = "The sync failed; the audience on TikTok keeps its previous members."
        hint = ("See the error below and the run's logs. Consider re-authenticating the integration if "
                "more than one audience has failed.")
    elif event == TOO_SMALL:
        size = f"{ctx.size:,}" if ctx.size is not None else "fewer than 1,000"
        subject = f"TikTok audience '{name}' is Too Small ({size} contacts)"
        if ctx.size is not None and ctx.size >= 1000:
            # TikTok's minimum counts matched users (docs/identifiers.md): enough contacts, too few matched.
            lead = ("TikTok matched fewer than 1,000 of the audience's contacts to its users, the minimum for an "
                    "audience it can target.")
            hint = "See the audience's status message for what TikTok said and what to do."
        else:
            lead = "The audience has fewer than 1,000 contacts, the minimum TikTok requires; nothing was sent."
            hint = "Check the audience's segments; syncing resumes by itself once it has 1,000 contacts."
    elif event == MATCH_DROP:
        fell = (ctx.match_before or 0) * 100 - (ctx.match_after or 0) * 100
        subject = (f"TikTok audience '{name}': match rate fell {fell:.1f} points "
                   f"({_percent(ctx.match_before)} to {_percent(ctx.match_after)})")
        lead = f"The match rate fell by more than {match_drop_points:g} percentage points since the previous sync."
        hint = ("Check for changes upstream: identifier formats, a new contact source, consent changes; the "
                "run's invalid-identifier counts are on the Audiences page.")
    else:
        raise ValueError(f"unknown alert event {event!r}")
    rows: list[tuple[str, str]] = [
        ("Audience", f"{name} ({ctx.audience_key})"),
        ("Integration", ctx.integration),
        ("Status", ctx.status or "unknown"),
        ("DAG", ctx.dag_id),
        ("Run", ctx.run_id),
    ]
    if ctx.size is not None:
        rows.append(("Contacts", f"{ctx.size:,}"))
    if ctx.added is not None or ctx.removed is not None:
        rows.append(("Changes", f"+{ctx.added or 0:,} / -{ctx.removed or 0:,} identifiers"))
    if ctx.match_before is not None or ctx.match_after is not None:
        rows.append(("Match rate", f"{_percent(ctx.match_before)} before, {_percent(ctx.match_after)} now"))
    if error:
        rows.append(("Error", error))
    rows.append(("What to do", hint))
    if ctx.link:
        rows.append(("Run in Airflow", ctx.link))
    text = "\n".join([f"*{_slack_escape(subject)}*", _slack_escape(lead), ""]
                     + [f"*{label}:* {_slack_escape(value)}" for label, value in rows])
    html_body = (
        f"<p><strong>{html.escape(subject)}</strong></p><p>{html.escape(lead)}</p><table>"
        + "".join(f"<tr><th align=\"left\">{html.escape(label)}</th><td>{_html_value(label, value)}</td></tr>"
                  for label, value in rows)
        + "</table>"
    )
    return AlertMessage(subject=subject, text=text, html=html_body)


def _slack_escape(value: str) -> str:
    # Slack's mrkdwn control characters; a name like "<!channel>" must not ping anybody.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html_value(label: str, value: str) -> str:
    if label == "Run in Airflow":
        return f"<a href=\"{html.escape(value, quote=True)}\">{html.escape(value)}</a>"
    return html.escape(value)
