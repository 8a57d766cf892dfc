"""The notify task: tell people, by email and Slack, what went wrong with one run of an audience."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from tiktok_audiences.operators.base import AudienceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tiktok_audiences.definitions import AlertSettings, EmailChannel, SlackChannel
    from tiktok_audiences.metadata import AudienceStore
    from tiktok_audiences.sync.alerts import AlertMessage


class AlertDeliveryError(AirflowException):
    """An alert could not be delivered; names the channel and its connection (Airflow retries)."""


class AudienceAlertsOperator(AudienceOperator):
    """
    Send one alert per event of this run (Failed, auth error, Too Small, match drop) and channel.

    Runs last in the audience's DAG whatever happened before (a teardown, so it never changes the
    run's own outcome). It reads what the run did from the metadata database — the history row the
    sync or the failure callback wrote — so it sees final outcomes only, after every retry. Each
    delivered alert is recorded (``tiktok_alerts``) before the next one is sent; a retried or
    re-run notify task sends only what was not delivered yet.

    Messages go through the providers' notifiers
    (:class:`~airflow.providers.smtp.notifications.smtp.SmtpNotifier`,
    :class:`~airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier`). They carry
    names, counts, rates and Airflow ids; error texts are scrubbed of anything that looks like an
    email address, phone number or device id.

    :param audience: the audience definition, with its ``alerts`` block (see
        :class:`~tiktok_audiences.operators.base.AudienceOperator`)
    """

    template_fields: Sequence[str] = ()
    ui_color = "#fff4d6"

    def execute(self, context: Context) -> dict[str, Any]:
        from tiktok_audiences.metadata import open_store
        from tiktok_audiences.sync import alerts

        settings = self._settings()
        if not settings.active:
            self.log.info("No alert channel or event configured for this audience; nothing to do")
            return {"events": [], "sent": [], "already_sent": []}
        store = open_store(self.meta_conn_id)
        key, run_id = self.audience.key, context["run_id"]
        found = store.alert_facts(key, run_id)
        run = found["run"] or {}
        facts = alerts.RunFacts(
            outcome=run.get("outcome"),
            error=run.get("message"),
            error_kind=run.get("error_kind"),
            match_rate=run.get("match_rate"),
            previous_outcome=found["previous_outcome"],
            previous_match_rate=found["previous_match_rate"],
        )
        events = alerts.detect_events(facts, settings)
        self.log.info("Run %s of audience '%s': outcome %s, alert events %s",
                      run_id, self.audience.name, facts.outcome, events or "none")
        if not events:
            return {"events": [], "sent": [], "already_sent": []}
        ctx = self._alert_context(store, run_id, run, facts)
        sent: list[str] = []
        already: list[str] = []
        failures: list[str] = []
        for event in events:
            message = alerts.compose(event, ctx, match_drop_points=settings.match_drop_points)
            for channel_name, channel in settings.channels:
                label = f"{event}/{channel_name}"
                if store.alert_sent(key, run_id, event, channel_name):
                    already.append(label)
                    continue
                try:
                    self._deliver(channel_name, channel, message, context)
                except Exception as err:  # one channel down must not keep the other from alerting
                    failures.append(_delivery_failure(channel_name, channel.conn_id, err))
                    continue
                store.record_alert(key, run_id, event, channel_name, channel.conn_id)
                sent.append(label)
                self.log.info("Alert %s sent through connection '%s'", label, channel.conn_id)
        if failures:
            raise AlertDeliveryError(
                "Could not deliver " + "; ".join(failures) + ". The sync's own result is unchanged; alerts "
                "already delivered are not sent again when this task is retried or cleared."
            )
        return {"events": events, "sent": sent, "already_sent": already}

    # -- settings ---------------------------------------------------------------------------

    def _settings(self) -> AlertSettings:
        """The integration's alert settings (connection extra ``alerts``) merged with the audience's."""
        from airflow.sdk import BaseHook

        from tiktok_audiences.definitions import parse_integration_alerts, resolve_settings

        conn_id = self.audience.integration
        try:
            extra = BaseHook.get_connection(conn_id).extra_dejson
        except Exception:  # a deleted integration still alerts through the audience's own settings
            self.log.warning("Integration '%s' not found; using the audience's alert settings only", conn_id)
            extra = {}
        integration_block, problems = parse_integration_alerts(conn_id, extra.get("alerts"))
        if problems:
            raise AirflowException("Alert settings are invalid: " + " ".join(problems))
        return resolve_settings(integration_block, dict(self.audience.alerts))

    # -- message ----------------------------------------------------------------------------

    def _alert_context(self, store: AudienceStore, run_id: str, run: dict[str, Any], facts):
        from tiktok_audiences.sync.alerts import AlertContext, run_link

        row = store.get_audience(self.audience.key) or {}
        failed = facts.outcome in ("failed", "running")
        error = run.get("message") if failed else None
        if facts.outcome == "running":
            error = "the sync task ended without recording an outcome (worker killed or timed out); see its logs"
        # After a failure the audience row still holds the previous run's size: only this run's counts.
        size = run.get("size") if run.get("size") is not None or failed else row.get("size")
        return AlertContext(
            audience_name=self.audience.name,
            audience_key=self.audience.key,
            integration=self.audience.integration,
            dag_id=self.dag_id,
            run_id=run_id,
            status=row.get("status"),
            size=size,
            added=run.get("added"),
            removed=run.get("removed"),
            match_before=facts.previous_match_rate if facts.outcome == "success" else None,
            match_after=facts.match_rate if facts.outcome == "success" else None,
            error=error,
            link=run_link(_airflow_base_url(), self.dag_id, run_id),
        )

    # -- delivery ---------------------------------------------------------------------------

    def _deliver(self, channel_name: str, channel: EmailChannel | SlackChannel, message: AlertMessage,
                 context: Context) -> None:
        # notify() rather than calling the notifier: __call__ would render the message as a Jinja
        # template, and an audience name or error text is data, not a template.
        if channel_name == "email":
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            SmtpNotifier(
                to=list(channel.to),
                from_email=channel.from_email,
                subject=message.subject,
                html_content=message.html,
                smtp_conn_id=channel.conn_id,
            ).notify(context)
        else:
            from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

            SlackWebhookNotifier(
                slack_webhook_conn_id=channel.conn_id, text=message.text, unfurl_links=False, unfurl_media=False,
            ).notify(context)


def _delivery_failure(channel_name: str, conn_id: str, err: Exception) -> str:
    detail = " ".join(str(err).split())[:300] or "no detail"
    kind = "the email alert" if channel_name == "email" else "the Slack alert"
    return f"{kind} through Airflow connection '{conn_id}' ({type(err).__name__}: {detail})"


def _airflow_base_url() -> str | None:
    """``[api] base_url``, where the Airflow UI is reached; links are left out without it."""
    from airflow.sdk import conf

    try:
        return conf.get("api", "base_url", fallback=None)
    except Exception:
        return None
