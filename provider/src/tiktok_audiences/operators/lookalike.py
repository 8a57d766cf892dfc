"""Operator that keeps an audience's TikTok lookalike audience in line with its ``lookalike:`` block."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tiktok_audiences.operators.base import AudienceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class TikTokLookalikeSyncOperator(AudienceOperator):
    """
    Create the audience's lookalike once its source audience is usable on TikTok, and keep it current.

    Runs :class:`~tiktok_audiences.sync.lookalike_sync.LookalikeSync` under the audience's own lock
    (no sync of its source, a backfill say, changes it underneath). Records everything on the
    lookalike, never on the audience. Returns a small summary.

    :param audience: the audience definition, with a ``lookalike:`` block (see
        :class:`~tiktok_audiences.operators.base.AudienceOperator`)
    :param dry_run: report what would be done, send nothing (templated)
    :param lock_timeout: how long to wait for another run of the same audience
    :param lock_lease: how long the audience's lock stays valid
    """

    template_fields: Sequence[str] = ("dry_run",)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        dry_run: Any = False,
        lock_timeout: timedelta = timedelta(minutes=30),
        lock_lease: timedelta = timedelta(minutes=10),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dry_run = dry_run
        self.lock_timeout = lock_timeout
        self.lock_lease = lock_lease

    def execute(self, context: Context) -> dict[str, Any]:
        from tiktok_audiences.hooks.tiktok import TikTokHook
        from tiktok_audiences.metadata import open_store
        from tiktok_audiences.operators._errors import airflow_errors
        from tiktok_audiences.sync.locking import audience_lock
        from tiktok_audiences.sync.lookalike import LookalikeStatus
        from tiktok_audiences.sync.lookalike_sync import LookalikeSync
        from tiktok_audiences.sync.options import flag

        lookalike = self.audience.lookalike
        if lookalike is None:
            raise ValueError(f"Audience '{self.audience.name}' has no lookalike: block; this task should not exist")
        store = open_store(self.meta_conn_id)
        store.register_lookalike(self.audience.key, lookalike.name, initial_status=LookalikeStatus.WAITING.value)
        hook = TikTokHook(tiktok_conn_id=self.audience.integration)
        with airflow_errors(), audience_lock(store, self.audience.key, name=self.audience.name,
                                             run_id=context["run_id"], lease=self.lock_lease,
                                             timeout=self.lock_timeout, log=self.log):
            sync = LookalikeSync(self.audience, dry_run=flag(self.dry_run), client=hook, store=store, log=self.log)
            return sync.run()
