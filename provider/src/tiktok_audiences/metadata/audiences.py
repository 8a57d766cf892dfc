"""The audiences table: one row per audience file, with its TikTok id and what the page shows."""

from __future__ import annotations

import json
from typing import Any

from tiktok_audiences.metadata.repository import Repository, insert_unless_present
from tiktok_audiences.metadata.schema import (
    alerts_sent,
    audience_locks,
    audiences,
    confirmed_members,
    lookalikes,
    segment_snapshot_members,
    segment_snapshots,
    sync_runs,
    unconfirmed_members,
    utcnow,
)

#: Every table with rows of an audience, children first: what :meth:`delete_audience` clears.
AUDIENCE_TABLES = (
    alerts_sent,
    sync_runs,
    confirmed_members,
    unconfirmed_members,
    segment_snapshot_members,
    segment_snapshots,
    audience_locks,
    lookalikes,
    audiences,
)


class AudiencesRepository(Repository):
    def get_audience(self, key: str) -> dict[str, Any] | None:
        return self._row(audiences, key)

    def list_audiences(self) -> list[dict[str, Any]]:
        return self._rows(audiences, audiences.c.name)

    def register_audience(self, definition: dict[str, Any], dag_id: str, *, initial_status: str) -> dict[str, Any]:
        """Create the audience row on first sight, or refresh its definition; returns the row."""
        now = utcnow()
        key = definition["key"]
        values = {
            "name": definition["name"],
            "integration": definition["integration"],
            "definition": json.dumps(definition, sort_keys=True),
            "dag_id": dag_id,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            updated = conn.execute(audiences.update().where(audiences.c.audience_key == key).values(**values)).rowcount
            if not updated:  # first sight, unless another run registers it at the same moment
                insert_unless_present(
                    conn, audiences, audience_key=key, status=initial_status, created_at=now, **values
                )
        row = self.get_audience(key)
        assert row is not None
        return row

    def update_audience(self, key: str, **values: Any) -> None:
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(audiences.update().where(audiences.c.audience_key == key).values(**values))

    def delete_audience(self, key: str) -> None:
        """Forget an audience: its row, run history, confirmed set, snapshots and lock, at once."""
        with self.engine.begin() as conn:
            for table in AUDIENCE_TABLES:
                conn.execute(table.delete().where(table.c.audience_key == key))
