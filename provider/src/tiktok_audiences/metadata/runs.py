"""The run history: one row per audience and Airflow run, with what the run extracted and sent."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from tiktok_audiences.metadata.repository import Repository
from tiktok_audiences.metadata.schema import sync_runs, utcnow


class RunsRepository(Repository):
    def start_run(self, key: str, run_id: str) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            updated = conn.execute(
                sync_runs.update()
                .where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
                .values(started_at=now, finished_at=None, outcome="running", message=None, error_kind=None)
            ).rowcount
            if not updated:
                conn.execute(
                    sync_runs.insert().values(audience_key=key, run_id=run_id, started_at=now, outcome="running")
                )

    def finish_run(self, key: str, run_id: str, *, outcome: str, **values: Any) -> None:
        now = utcnow()
        for field in ("invalid", "timings"):
            if field in values and not isinstance(values[field], str | None):
                values[field] = json.dumps(values[field], sort_keys=True)
        with self.engine.begin() as conn:
            started = conn.execute(
                sa.select(sync_runs.c.started_at).where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
            ).scalar()
            if started is None:
                conn.execute(
                    sync_runs.insert().values(audience_key=key, run_id=run_id, started_at=now, outcome=outcome)
                )
                started = now
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.audience_key == key, sync_runs.c.run_id == run_id)
                .values(
                    outcome=outcome,
                    finished_at=now,
                    duration_seconds=(now - started).total_seconds(),
                    **values,
                )
            )

    def run_history(self, key: str, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(sync_runs)
                    .where(sync_runs.c.audience_key == key)
                    .order_by(sync_runs.c.started_at.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]
