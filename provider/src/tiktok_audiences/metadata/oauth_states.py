"""Pending OAuth set-ups of integrations: a single-use, expiring state per started set-up.

Only a SHA-256 of the state is stored (the caller hashes it): a leaked row cannot finish a flow.
What the state means and which checks a returning browser passes is
:mod:`tiktok_audiences.integration`'s business; this module only keeps the rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tiktok_audiences.metadata.repository import Repository
from tiktok_audiences.metadata.schema import oauth_states, utcnow


class OAuthStatesRepository(Repository):
    def save_oauth_state(self, state_hash: str, *, ttl: timedelta, username: str, conn_id: str, app_id: str,
                         advertiser_id: str | None, api_url: str, redirect_uri: str) -> None:
        """Remember a started set-up for ``ttl``; expired ones are dropped here, so abandoned flows
        never pile up."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(oauth_states.delete().where(oauth_states.c.expires_at < now))
            conn.execute(
                oauth_states.insert().values(
                    state_hash=state_hash,
                    username=username,
                    conn_id=conn_id,
                    app_id=app_id,
                    advertiser_id=advertiser_id,
                    api_url=api_url,
                    redirect_uri=redirect_uri,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )

    def take_oauth_state(self, state_hash: str) -> tuple[dict[str, Any] | None, bool]:
        """Read and delete a set-up's row: ``(row, taken)``.

        ``row`` is None when no such state is stored; ``taken`` is False when another caller deleted
        it between the read and the delete (of two concurrent callbacks with one state, exactly one
        takes it). Whatever the caller decides next, the state is spent.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(oauth_states).where(oauth_states.c.state_hash == state_hash)
            ).mappings().first()
            if row is None:
                return None, False
            deleted = conn.execute(oauth_states.delete().where(oauth_states.c.state_hash == state_hash)).rowcount
        return dict(row), deleted == 1
