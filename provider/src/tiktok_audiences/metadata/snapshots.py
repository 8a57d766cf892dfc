"""Segment snapshots: each segment's definition, and a static segment's members, from the last good run.

They let a later run tell a deleted segment ("Deleted Segment") and keep a deleted static
segment's members. On PostgreSQL a large static segment is written with COPY.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tiktok_audiences.db import pgcopy
from tiktok_audiences.metadata.repository import INSERT_CHUNK, Repository
from tiktok_audiences.metadata.schema import segment_snapshot_members, segment_snapshots, utcnow

#: Below this many members a static segment is written with INSERTs.
_COPY_FROM_MEMBERS = 1000


class SnapshotsRepository(Repository):
    def save_segment_snapshot(
        self, key: str, segments: Sequence[dict[str, Any]], static_members: pd.DataFrame
    ) -> None:
        """Remember each segment's definition, and a static segment's members, from a good run."""
        now = utcnow()
        with self.engine.begin() as conn:
            for segment in segments:
                conn.execute(
                    segment_snapshots.delete().where(
                        segment_snapshots.c.audience_key == key,
                        segment_snapshots.c.segment_id == segment["segment_id"],
                    )
                )
                conn.execute(
                    segment_snapshots.insert().values(
                        audience_key=key,
                        segment_id=segment["segment_id"],
                        name=segment.get("name"),
                        criteria=segment.get("criteria"),
                        captured_at=now,
                    )
                )
            for segment_id, group in static_members.groupby("segment_id"):
                conn.execute(
                    segment_snapshot_members.delete().where(
                        segment_snapshot_members.c.audience_key == key,
                        segment_snapshot_members.c.segment_id == int(segment_id),
                    )
                )
                _insert_snapshot_members(conn, key, int(segment_id), group["contact_id"].tolist())

    def load_segment_snapshot(self, key: str) -> dict[int, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(segment_snapshots).where(segment_snapshots.c.audience_key == key)
            ).mappings()
            return {int(r["segment_id"]): dict(r) for r in rows}

    def load_snapshot_members(self, key: str, segment_id: int) -> list[int]:
        with self.engine.connect() as conn:
            return [
                int(c)
                for c in conn.execute(
                    sa.select(segment_snapshot_members.c.contact_id).where(
                        segment_snapshot_members.c.audience_key == key,
                        segment_snapshot_members.c.segment_id == segment_id,
                    )
                ).scalars()
            ]


def _insert_snapshot_members(conn: Connection, key: str, segment_id: int, contact_ids: list[int]) -> None:
    # A 10M-contact database has static segments of 500k contacts; one INSERT per row took ~20 s.
    if (conn.dialect.name == "postgresql" and len(contact_ids) >= _COPY_FROM_MEMBERS
            and pgcopy.driver(conn) is not None):
        pgcopy.copy_in(conn, segment_snapshot_members.name, ["audience_key", "segment_id", "contact_id"],
                       fixed=[key, segment_id], values=[[int(c) for c in contact_ids]])
        return
    rows = [{"audience_key": key, "segment_id": segment_id, "contact_id": int(c)} for c in contact_ids]
    for start in range(0, len(rows), INSERT_CHUNK):
        conn.execute(segment_snapshot_members.insert(), rows[start : start + INSERT_CHUNK])
