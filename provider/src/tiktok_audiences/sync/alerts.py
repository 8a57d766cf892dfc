"""Failure alerts: which events a run produces, and the message of each event.

Pure Python (no Airflow import): the notify task (:mod:`tiktok_audiences.operators.alerts`) and
the unit tests share these rules. What an audience asks to be alerted about, and through which
channels, is :mod:`tiktok_audiences.definitions.alerts`.

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

import html
import re
from dataclasses import dataclass
from urllib.parse import quote

from tiktok_audiences.definitions import AUTH_ERROR, EVENTS, FAILED, MATCH_DROP, TOO_SMALL, AlertSettings

#: Written by :func:`tiktok_audiences.tiktok.errors.error_for_code` into every TikTok auth error.
REAUTH_MARKER = "re-authenticate the integration"
#: Error kinds stored with a failed run (``tiktok_sync_runs.error_kind``).
ERROR_KIND_AUTH = "auth"
ERROR_KIND_OTHER = "other"


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
