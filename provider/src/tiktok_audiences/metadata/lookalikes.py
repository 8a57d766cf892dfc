"""The lookalikes table: the one lookalike an audience file's ``lookalike:`` block describes."""

from __future__ import annotations

import json
from typing import Any

from tiktok_audiences.metadata.repository import Repository, insert_unless_present
from tiktok_audiences.metadata.schema import lookalikes, utcnow


class LookalikesRepository(Repository):
    def get_lookalike(self, key: str) -> dict[str, Any] | None:
        """The lookalike recorded for an audience, or None."""
        return self._row(lookalikes, key)

    def list_lookalikes(self) -> list[dict[str, Any]]:
        return self._rows(lookalikes, lookalikes.c.name)

    def register_lookalike(self, key: str, name: str, *, initial_status: str) -> dict[str, Any]:
        """Create the audience's lookalike row on first sight (name refreshed); returns the row."""
        now = utcnow()
        with self.engine.begin() as conn:
            updated = conn.execute(
                lookalikes.update().where(lookalikes.c.audience_key == key).values(name=name, updated_at=now)
            ).rowcount
            if not updated:
                insert_unless_present(conn, lookalikes, audience_key=key, name=name, status=initial_status,
                                      created_at=now, updated_at=now)
        row = self.get_lookalike(key)
        assert row is not None
        return row

    def update_lookalike(self, key: str, **values: Any) -> None:
        if "spec" in values and not isinstance(values["spec"], str | None):
            values["spec"] = json.dumps(values["spec"], sort_keys=True)
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(lookalikes.update().where(lookalikes.c.audience_key == key).values(**values))
