"""What every sender shares: where it sends, what it has sent, and the confirm-per-batch contract.

Every batch is journaled before it is sent and confirmed only after TikTok accepted it, so a run
that dies between TikTok's acceptance and our commit leaves the batch in the journal (the next run
removes or re-sends it); additions go before removals so the audience never dips below its final
size on the way; the audience's lock is renewed after each request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from tiktok_audiences.metadata import AudienceStore, LockHolder
from tiktok_audiences.sync.client import TikTokClient


@dataclass(frozen=True)
class SenderContext:
    """Where a sender sends and records.

    :param key: the audience's key in the metadata tables
    :param name: the audience's name (TikTok's audience name derives from it)
    :param client: TikTok
    :param store: the metadata store (confirmed set, journal, lock)
    :param holder: this run's hold on the audience's lock
    :param lock_lease_seconds: the lease each renewal grants
    :param batch_size: identifiers per file / users per mapping request
    :param log: the task's logger
    """

    key: str
    name: str
    client: TikTokClient
    store: AudienceStore
    holder: LockHolder
    lock_lease_seconds: float
    batch_size: int
    log: logging.Logger


class Sender:
    """Counters of what TikTok accepted, shared by both senders."""

    api: ClassVar[str]

    def __init__(self, ctx: SenderContext) -> None:
        self.ctx = ctx
        self.added = 0
        self.removed = 0
        self.requests = 0
        self.bytes_sent = 0
        #: the TikTok audience this sender created, if it did
        self.audience_id: str | None = None

    @property
    def calculate_type(self) -> str | None:
        """TikTok's customer-file encryption type of the audience (None for a Partner audience)."""
        return None

    def renew_lock(self) -> None:
        self.ctx.store.renew_lock(self.ctx.key, self.ctx.holder, self.ctx.lock_lease_seconds)

    def record_created(self, audience_id: str) -> None:
        """The create was accepted: remember the TikTok audience (before anything else is sent to it)."""
        self.ctx.store.update_audience(
            self.ctx.key, tiktok_audience_id=audience_id, create_started_at=None,
            advertiser_id=self.ctx.client.advertiser_id, calculate_type=self.calculate_type, api=self.api,
        )
        self.audience_id = audience_id
