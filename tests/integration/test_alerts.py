"""Failure alerts end to end: real audience DAGs, a local SMTP server and a stand-in for Slack's webhook.

The audience DAGs run with dag.test() against PostgreSQL contacts and the TikTok sandbox over HTTP;
their notify task sends through Airflow's SMTP and Slack-webhook notifiers to servers started here.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.contacts import ContactDatabase, maid, phone
from tests.integration.contacts import email as contact_email

pytestmark = pytest.mark.integration

SLACK_TOKEN = "T0000ALERT/B0000ALERT/webhooksecretvalue42"
ALERTS = {"email": {"conn_id": "smtp_alerts", "to": ["ops@example.com"]}, "slack": {"conn_id": "slack_alerts"}}


@dataclass
class Mail:
    recipients: list[str]
    subject: str
    body: str


@dataclass
class Inbox:
    """What reached the local SMTP server and the webhook stand-in."""

    mails: list[Mail] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [m.subject + "\n" + m.body for m in self.mails] + [json.dumps(p) for p in self.posts]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def inbox(monkeypatch):
    """A local SMTP server (aiosmtpd) and an HTTP server recording POSTs, wired as Airflow connections."""
    from aiosmtpd.controller import Controller

    received = Inbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            part = message.get_body(preferencelist=("html", "plain"))
            received.mails.append(Mail(list(envelope.rcpt_tos), str(message["subject"]), part.get_content()))
            return "250 Message accepted"

    smtp = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
    smtp.start()

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.posts.append(json.loads(body))
            received.paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    webhook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=webhook.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_ALERTS", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com", "retry_limit": 0,
                  "timeout": 10},
    }))
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", json.dumps({
        "conn_type": "slackwebhook", "host": f"http://127.0.0.1:{webhook.server_address[1]}/services",
        "password": SLACK_TOKEN,
    }))
    yield received
    webhook.shutdown()
    webhook.server_close()
    smtp.stop()


@pytest.fixture
def contacts(audience_env) -> ContactDatabase:
    """1,400 subscribed contacts; segment 1 = all of them, 4 = a static list of 50."""
    db = ContactDatabase(audience_env.contacts)
    db.add_contacts(range(1, 1401))
    db.add_segment(1, "Everyone", criteria="contact_id <= 1400")
    db.add_segment(4, "Small static", members=range(1, 51))
    return db


def define(audience_env, key="buyers", alerts=ALERTS, **overrides):
    definition = {"name": "Buyers", "include_segments": [1], "alerts": alerts}
    definition.update(overrides)
    audience_env.write_audience(key, **definition)


def assert_one_each(inbox: Inbox) -> tuple[Mail, dict]:
    assert len(inbox.mails) == 1, [m.subject for m in inbox.mails]
    assert len(inbox.posts) == 1, inbox.posts
    return inbox.mails[0], inbox.posts[0]


def assert_no_raw_identifiers(inbox: Inbox) -> None:
    from tiktok_sandbox.config import SandboxConfig

    for text in inbox.texts():
        lowered = text.lower()
        for i in range(1, 1401):
            assert contact_email(i) not in lowered and phone(i) not in text and maid(i) not in lowered
        assert SandboxConfig().access_token not in text and SLACK_TOKEN not in text


def test_failed_run_sends_one_email_and_one_slack_post(audience_env, contacts, inbox):
    define(audience_env, include_segments=[1, 99])
    run = audience_env.run("buyers")
    assert run.state == "failed"  # the notify task (a teardown) does not turn the run green
    mail, post = assert_one_each(inbox)
    assert mail.recipients == ["ops@example.com"]
    assert mail.subject == "TikTok audience 'Buyers' failed to sync"
    assert "segment 99 does not exist" in mail.body and "segment 99 does not exist" in post["text"]
    assert "tiktok_audience__buyers" in post["text"] and run.run_id in post["text"]
    assert inbox.paths == [f"/services/{SLACK_TOKEN}"]  # the connection's webhook, token in the path only
    assert_no_raw_identifiers(inbox)


def test_too_small_sends_one_email_and_one_slack_post(audience_env, contacts, inbox):
    define(audience_env, include_segments=[4])
    assert audience_env.run("buyers").state == "success"
    mail, post = assert_one_each(inbox)
    assert "is Too Small (50 contacts)" in mail.subject and "Too Small" in post["text"]
    assert_no_raw_identifiers(inbox)


def test_staying_too_small_does_not_alert_again(audience_env, contacts, inbox):
    define(audience_env, include_segments=[4])
    assert audience_env.run("buyers").state == "success"
    assert audience_env.run("buyers").state == "success"
    assert_one_each(inbox)


def test_auth_error_alert_carries_the_reauthenticate_hint(audience_env, contacts, inbox):
    define(audience_env)
    audience_env.sandbox.fault(path="*", code=40105, message="Access token is invalid", times=1)
    assert audience_env.run("buyers").state == "failed"
    mail, post = assert_one_each(inbox)  # one incident, one message: not also a "failed" alert
    assert "needs re-authentication" in mail.subject
    for text in (mail.body, post["text"]):
        assert "Re-authenticate the integration" in text and "40105" in text
    assert audience_env.store().run_history("buyers")[0]["error_kind"] == "auth"
    assert_no_raw_identifiers(inbox)


def _match_rates(audience_env) -> list[float]:
    return [r["match_rate"] for r in reversed(audience_env.store().run_history("buyers"))]


def _resync_at_match_rate(audience_env, rate: float):
    audience_env.sandbox.control("POST", "config", json={"match_rate": rate, "replace_cooldown_seconds": 0})
    return audience_env.run("buyers", full_resync=True)  # REPLACE: TikTok matches every member afresh


def test_match_drop_above_the_threshold_alerts(audience_env, contacts, inbox):
    define(audience_env, alerts={**ALERTS, "match_drop_points": 10})
    audience_env.sandbox.control("POST", "config", json={"match_rate": 0.8})
    assert audience_env.run("buyers").state == "success"
    assert inbox.mails == [] and inbox.posts == []  # a first sync has nothing to compare with
    assert _resync_at_match_rate(audience_env, 0.3).state == "success"
    before, after = _match_rates(audience_env)
    assert (before - after) * 100 > 10
    mail, post = assert_one_each(inbox)
    assert "match rate fell" in mail.subject
    assert f"{before * 100:.1f}% before, {after * 100:.1f}% now" in post["text"]
    assert_no_raw_identifiers(inbox)


def test_match_drop_within_the_threshold_does_not_alert(audience_env, contacts, inbox):
    define(audience_env, alerts={**ALERTS, "match_drop_points": 10})
    audience_env.sandbox.control("POST", "config", json={"match_rate": 0.8})
    assert audience_env.run("buyers").state == "success"
    assert _resync_at_match_rate(audience_env, 0.77).state == "success"
    before, after = _match_rates(audience_env)
    assert 0 < (before - after) * 100 <= 10
    assert inbox.mails == [] and inbox.posts == []


def test_rerunning_the_notify_task_sends_nothing_twice(audience_env, contacts, inbox):
    define(audience_env, include_segments=[1, 99])
    run = audience_env.run("buyers")
    assert_one_each(inbox)
    notify = audience_env.dag("buyers").get_task("notify_alerts")
    result = notify.execute({"run_id": run.run_id})  # what a retry or a clear of the task does
    assert result["sent"] == [] and sorted(result["already_sent"]) == ["failed/email", "failed/slack"]
    assert_one_each(inbox)


def test_unreachable_smtp_server_fails_the_notify_task_not_the_sync(audience_env, contacts, inbox, monkeypatch,
                                                                    capfd):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DOWN", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": _free_port(),
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com", "retry_limit": 0,
                  "timeout": 5},
    }))
    define(audience_env, include_segments=[4], alerts={**ALERTS, "email": {"conn_id": "smtp_down", "to": ["o@x.io"]}})
    run = audience_env.run("buyers")
    assert run.state == "success"  # the audience's own result stands
    assert audience_env.audience_row("buyers")["status"] == "Too Small"
    assert len(inbox.posts) == 1 and inbox.mails == []  # the other channel still alerted
    output = "".join(capfd.readouterr())
    assert "Could not deliver the email alert through Airflow connection 'smtp_down'" in output
    sent = audience_env.store().alerts_of_run("buyers", run.run_id)
    assert [(a["event"], a["channel"]) for a in sent] == [("too_small", "slack")]  # a retry sends only the email


def test_raw_identifiers_quoted_by_an_error_never_reach_an_alert(audience_env, contacts, inbox):
    # PostgreSQL quotes the offending value in its error, which becomes the run's error message.
    contacts.execute(f"UPDATE segments SET criteria = 'contact_id = ''{contact_email(5)}''' WHERE segment_id = 1")
    define(audience_env)
    assert audience_env.run("buyers").state == "failed"
    assert contact_email(5) in audience_env.audience_row("buyers")["status_message"]  # the premise
    mail, post = assert_one_each(inbox)
    assert "[email removed]" in post["text"] and "[email removed]" in mail.body
    assert_no_raw_identifiers(inbox)


def test_integration_alert_settings_apply_to_its_audiences(audience_env, contacts, inbox, monkeypatch):
    import os

    connection = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    connection["extra"]["alerts"] = {"slack": {"conn_id": "slack_alerts"}, "events": ["too_small"]}
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(connection))
    define(audience_env, include_segments=[4], alerts=None)
    assert audience_env.run("buyers").state == "success"
    assert len(inbox.posts) == 1 and inbox.mails == []


def test_resyncing_an_integration_keeps_its_alert_settings(airflow_db):
    import sqlalchemy as sa
    from airflow.models import Connection
    from airflow.utils.session import create_session

    from tiktok_audiences import integration

    conn_id, settings = "tiktok_alerts_resync", {"email": {"to": ["ops@example.com"]}}
    ids = {"advertiser_id": "7200000000000000001", "app_id": "7100000000000000001", "api_url": "http://127.0.0.1:9"}
    integration.save_connection(conn_id=conn_id, token="first-token", **ids)
    with create_session() as session:
        conn = session.scalar(sa.select(Connection).where(Connection.conn_id == conn_id))
        conn.extra = json.dumps({**conn.extra_dejson, "alerts": settings})
    try:
        integration.save_connection(conn_id=conn_id, token="second-token", **ids)
        with create_session() as session:
            conn = session.scalar(sa.select(Connection).where(Connection.conn_id == conn_id))
            assert conn.password == "second-token"
            assert conn.extra_dejson == {"alerts": settings, "advertiser_id": ids["advertiser_id"],
                                         "app_id": ids["app_id"]}
    finally:
        integration.delete_connection(conn_id)
