"""The audience's lock around a run: one run at a time changes an audience (scheduled, manual, backfill).

Taken by the audience sync and by the lookalike sync (which must not change underneath a sync of
its source). The lock itself is a row with a lease in the metadata database
(:class:`~tiktok_audiences.metadata.locks.LocksRepository`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from tiktok_audiences.metadata import AudienceStore, LockHolder
from tiktok_audiences.sync.errors import SyncRetry


@contextmanager
def audience_lock(store: AudienceStore, key: str, *, name: str, run_id: str, lease: timedelta, timeout: timedelta,
                  log: logging.Logger) -> Iterator[LockHolder]:
    """Hold the audience's lock for the block, waiting up to ``timeout`` for another run to finish.

    :raises SyncRetry: another run still held it at the deadline (the task's retry tries again)
    """
    holder = LockHolder.for_run(run_id)
    current = store.wait_for_lock(
        key, holder, lease_seconds=lease.total_seconds(), timeout_seconds=timeout.total_seconds(),
        on_wait=lambda other: log.info("Waiting for run %s to finish syncing this audience", other.holder),
    )
    if current is not None:
        raise SyncRetry(
            f"Audience '{name}' is being synced by run {current.holder} (host {current.hostname}, pid {current.pid}); "
            f"gave up waiting after {timeout}. This run will retry."
        )
    try:
        yield holder
    finally:
        store.release_lock(key, holder)
