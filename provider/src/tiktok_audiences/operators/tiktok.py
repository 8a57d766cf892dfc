"""Operator that brings one TikTok custom audience to exactly the audience's member set."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tiktok_audiences.operators.base import AudienceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class TikTokAudienceSyncOperator(AudienceOperator):
    """
    Diff the audience against the identifiers confirmed on TikTok and send only the changes.

    Runs :class:`~tiktok_audiences.sync.engine.AudienceSync` under the audience's lock in the metadata
    database, so two runs of one audience (scheduled, manual or backfill) never interleave. Additions
    are sent before removals; every batch is recorded as confirmed only after TikTok accepted it.
    Returns a small summary (counts, status), never identifiers.

    :param audience: the audience definition (see :class:`~tiktok_audiences.operators.base.AudienceOperator`)
    :param extract_summary: what the extract task returned (templated; an XCom pull)
    :param full_resync: send the whole audience with REPLACE instead of a diff (templated)
    :param dry_run: compute and report the plan, send nothing (templated)
    :param allow_large_removal: let the run remove more than the configured share of the audience
        or drain it below TikTok's minimum (templated); see :mod:`tiktok_audiences.sync.guards`
    :param batch_size: identifiers per uploaded customer file; in partner mode users per
        ``/segment/mapping/`` request, at most 10,000
    :param lock_timeout: how long to wait for another run of the same audience to finish
    :param lock_lease: how long a lock stays valid without being renewed
    """

    template_fields: Sequence[str] = ("extract_summary", "full_resync", "dry_run", "allow_large_removal")
    ui_color = "#fde8ef"

    def __init__(
        self,
        *,
        extract_summary: Any,
        full_resync: Any = False,
        dry_run: Any = False,
        allow_large_removal: Any = False,
        batch_size: int = 500_000,
        lock_timeout: timedelta = timedelta(minutes=30),
        lock_lease: timedelta = timedelta(minutes=10),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.extract_summary = extract_summary
        self.full_resync = full_resync
        self.dry_run = dry_run
        self.allow_large_removal = allow_large_removal
        self.batch_size = batch_size
        self.lock_timeout = lock_timeout
        self.lock_lease = lock_lease

    def execute(self, context: Context) -> dict[str, Any]:
        from tiktok_audiences.hooks.tiktok import TikTokHook
        from tiktok_audiences.members.staging import run_folder_from_url
        from tiktok_audiences.metadata import open_store
        from tiktok_audiences.operators._errors import airflow_errors
        from tiktok_audiences.sync.engine import AudienceSync
        from tiktok_audiences.sync.locking import audience_lock
        from tiktok_audiences.sync.options import SyncOptions, flag

        options = SyncOptions(
            full_resync=flag(self.full_resync), dry_run=flag(self.dry_run),
            allow_large_removal=flag(self.allow_large_removal), batch_size=self.batch_size,
            lock_lease_seconds=self.lock_lease.total_seconds(),
        )
        store = open_store(self.meta_conn_id)
        hook = TikTokHook(tiktok_conn_id=self.audience.integration)
        with airflow_errors(), audience_lock(store, self.audience.key, name=self.audience.name,
                                             run_id=context["run_id"], lease=self.lock_lease,
                                             timeout=self.lock_timeout, log=self.log) as holder:
            sync = AudienceSync(self.audience, options, client=hook, store=store, holder=holder, log=self.log)
            return sync.run(run_id=context["run_id"], dag_id=context["dag"].dag_id,
                            extract_summary=self.extract_summary, folder_from_url=run_folder_from_url)
