"""The per-audience lock: one run at a time changes an audience (a row per audience, with a lease)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from tiktok_audiences.metadata.repository import Repository
from tiktok_audiences.metadata.schema import audience_locks, utcnow


@dataclass(frozen=True)
class LockHolder:
    """Who holds an audience lock: the run, and the process (to detect a killed worker)."""

    holder: str
    hostname: str
    pid: int

    @classmethod
    def for_run(cls, run_id: str) -> LockHolder:
        return cls(holder=run_id, hostname=socket.gethostname(), pid=os.getpid())


class LocksRepository(Repository):
    def wait_for_lock(
        self,
        key: str,
        holder: LockHolder,
        *,
        lease_seconds: float,
        timeout_seconds: float,
        on_wait: Callable[[LockHolder], None] | None = None,
        poll_seconds: float = 2.0,
    ) -> LockHolder | None:
        """Take the audience's lock, waiting up to ``timeout_seconds`` for another run to release it.

        Returns None once the lock is held, else the holder that still had it at the deadline.
        ``on_wait`` is called once, with that holder, when the first attempt finds the lock taken.
        """
        deadline = time.monotonic() + timeout_seconds
        current = self.acquire_lock(key, holder, lease_seconds)
        if current is not None and on_wait is not None:
            on_wait(current)
        while current is not None and time.monotonic() < deadline:
            time.sleep(poll_seconds)
            current = self.acquire_lock(key, holder, lease_seconds)
        return current

    def acquire_lock(self, key: str, holder: LockHolder, lease_seconds: float) -> LockHolder | None:
        """Take the audience's lock; returns None on success, else the current holder.

        A lock is taken over when its lease expired, or when its holder was a process on this
        host that no longer exists (a killed worker), so a crash never blocks an audience for long.
        """
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        values = {
            "holder": holder.holder,
            "hostname": holder.hostname,
            "pid": holder.pid,
            "acquired_at": now,
            "expires_at": expires,
        }
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(audience_locks).where(audience_locks.c.audience_key == key)).mappings().first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(audience_locks.insert().values(audience_key=key, **values))
                    return None
                except sa.exc.IntegrityError:
                    row = conn.execute(
                        sa.select(audience_locks).where(audience_locks.c.audience_key == key)
                    ).mappings().first()
                    if row is None:
                        return LockHolder("unknown", "unknown", 0)
            current = LockHolder(row["holder"], row["hostname"], row["pid"])
            takeover = (
                (current.hostname == holder.hostname and current.pid == holder.pid)
                or row["expires_at"] < now
                or (current.hostname == holder.hostname and not _process_alive(current.pid))
            )
            if not takeover:
                return current
            # Compare-and-set on the row we read, so two waiters cannot both take it over.
            swapped = conn.execute(
                audience_locks.update()
                .where(
                    audience_locks.c.audience_key == key,
                    audience_locks.c.holder == row["holder"],
                    audience_locks.c.acquired_at == row["acquired_at"],
                )
                .values(**values)
            ).rowcount
            return None if swapped == 1 else current

    def renew_lock(self, key: str, holder: LockHolder, lease_seconds: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                audience_locks.update()
                .where(audience_locks.c.audience_key == key, audience_locks.c.holder == holder.holder)
                .values(expires_at=utcnow() + timedelta(seconds=lease_seconds))
            )

    def release_lock(self, key: str, holder: LockHolder) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                audience_locks.delete().where(
                    audience_locks.c.audience_key == key,
                    audience_locks.c.holder == holder.holder,
                    audience_locks.c.pid == holder.pid,
                )
            )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
