"""Alerts delivered (one row per audience, run, event and channel), and the run facts alert rules read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tiktok_audiences.metadata.repository import Repository, insert_unless_present
from tiktok_audiences.metadata.schema import alerts_sent, sync_runs, utcnow


class AlertsRepository(Repository):
    def alert_facts(self, key: str, run_id: str) -> dict[str, Any]:
        """This run's history row and, from earlier runs, what the alert rules compare it with.

        Returns ``{"run": row or None, "previous_outcome": ..., "previous_match_rate": ...}``:
        the outcome of the latest earlier run that completed a sync (success or too_small) and
        the match rate of the latest earlier successful run that had one.
        """
        with self.engine.connect() as conn:
            run = conn.execute(
                sa.select(sync_runs).where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
            ).mappings().first()
            earlier = sa.and_(sync_runs.c.audience_key == key, sync_runs.c.run_id != run_id)
            if run is not None:
                earlier = sa.and_(earlier, sync_runs.c.started_at < run["started_at"])
            newest = (sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
            previous_outcome = conn.execute(
                sa.select(sync_runs.c.outcome)
                .where(earlier, sync_runs.c.outcome.in_(("success", "too_small")))
                .order_by(*newest)
                .limit(1)
            ).scalar()
            previous_match_rate = conn.execute(
                sa.select(sync_runs.c.match_rate)
                .where(earlier, sync_runs.c.outcome == "success", sync_runs.c.match_rate.is_not(None))
                .order_by(*newest)
                .limit(1)
            ).scalar()
        return {
            "run": dict(run) if run else None,
            "previous_outcome": previous_outcome,
            "previous_match_rate": previous_match_rate,
        }

    def alert_sent(self, key: str, run_id: str, event: str, channel: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(alerts_sent).where(
                    alerts_sent.c.audience_key == key,
                    alerts_sent.c.run_id == run_id,
                    alerts_sent.c.event == event,
                    alerts_sent.c.channel == channel,
                )
            ).scalar_one() > 0

    def record_alert(self, key: str, run_id: str, event: str, channel: str, conn_id: str) -> None:
        """Remember a delivered alert (idempotent)."""
        with self.engine.begin() as conn:
            insert_unless_present(conn, alerts_sent, audience_key=key, run_id=run_id, event=event, channel=channel,
                                  conn_id=conn_id, sent_at=utcnow())

    def alerts_of_run(self, key: str, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(alerts_sent)
                .where(alerts_sent.c.audience_key == key, alerts_sent.c.run_id == run_id)
                .order_by(alerts_sent.c.event, alerts_sent.c.channel)
            ).mappings().all()
        return [dict(r) for r in rows]
