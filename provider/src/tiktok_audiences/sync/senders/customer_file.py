"""The customer-file sender: upload files, then create the audience or APPEND / REMOVE / REPLACE them.

TikTok's operations: ``/file/upload/``, ``/dmp/custom_audience/create/`` and ``/update/`` (``action``
APPEND, REMOVE, REPLACE), specified in tiktok/tiktok-business-api-sdk ``yml_files/dmp_custom_audience_*.yml``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tiktok_audiences.members import membership
from tiktok_audiences.members.membership import Identifiers
from tiktok_audiences.metadata import utcnow
from tiktok_audiences.sync.errors import reconciled_on_retry
from tiktok_audiences.sync.senders.base import Sender, SenderContext
from tiktok_audiences.tiktok.customer_files import MAX_FILE_PATHS, customer_file
from tiktok_audiences.tiktok.partner import CUSTOMER_FILE

#: What a create or REPLACE uploaded: its file paths, the identifiers they hold, the batches beyond them
Uploaded = tuple[list[str], pd.DataFrame, list[pd.DataFrame]]


class CustomerFileSender(Sender):
    """Uploads customer files and applies them, confirming each batch once TikTok accepted it."""

    api = CUSTOMER_FILE

    def __init__(self, ctx: SenderContext, *, id_types: Sequence[str], calculate_type: str,
                 retention_in_days: int | None = None, audience_enhancement: bool | None = None) -> None:
        super().__init__(ctx)
        self.id_types = list(id_types)
        self._calculate_type = calculate_type
        self.retention_in_days = retention_in_days
        self.audience_enhancement = audience_enhancement
        #: What the last create / REPLACE uploaded (kept for a refused REPLACE)
        self.uploaded: Uploaded | None = None

    @property
    def calculate_type(self) -> str:
        return self._calculate_type

    # -- the operations ---------------------------------------------------------------------------

    def create(self, identifiers: pd.DataFrame, uploaded: Uploaded | None = None) -> str:
        """Create the audience from ``identifiers`` (or from files already ``uploaded`` for them)."""
        ctx = self.ctx
        paths, created, rest = uploaded or self._upload_whole_set(identifiers, "create")
        # Journaled first: if the answer is lost, the adopted audience may hold any of them.
        ctx.store.begin_batch(ctx.key, adding=created)
        ctx.store.update_audience(ctx.key, create_started_at=utcnow())
        self.requests += 1
        with reconciled_on_retry("the TikTok audience"):
            audience_id = ctx.client.create_audience(
                ctx.name, calculate_type=self.calculate_type, file_paths=paths,
                retention_in_days=self.retention_in_days, audience_enhancement=self.audience_enhancement,
            )
        self.record_created(audience_id)
        ctx.store.confirm_replaced(ctx.key, created)
        self.added += len(created)
        ctx.log.info("Created TikTok audience %s with %d identifiers", audience_id, len(created))
        self._append_all(audience_id, rest)
        return audience_id

    def replace(self, audience_id: str, identifiers: pd.DataFrame, confirmed: Identifiers) -> None:
        """REPLACE the audience's members with ``identifiers``.

        :param confirmed: the identifiers confirmed on TikTok before the REPLACE
        """
        ctx = self.ctx
        paths, replaced, rest = self._upload_whole_set(identifiers, "replace")
        self.uploaded = (paths, replaced, rest)  # kept for append_uploaded / create if TikTok refuses the REPLACE
        # Once sent, TikTok may hold the new files' identifiers, and may have dropped the others.
        changes = membership.diff_members(replaced, confirmed)
        ctx.store.begin_batch(ctx.key, adding=changes.additions, removing=changes.removals)
        self.requests += 1
        ctx.client.update_audience(audience_id, file_paths=paths, action="REPLACE")
        ctx.store.confirm_replaced(ctx.key, replaced)
        self.added += len(replaced)
        self._append_all(audience_id, rest)

    def append_uploaded(self, audience_id: str, confirmed: pd.DataFrame) -> None:
        """APPEND the files a refused REPLACE carried (no new upload), then what else is unconfirmed.

        :param confirmed: the identifiers confirmed on TikTok before the REPLACE
        """
        assert self.uploaded is not None, "append_uploaded follows a refused replace"
        ctx = self.ctx
        paths, uploaded, rest = self.uploaded
        self.requests += 1
        ctx.client.update_audience(audience_id, file_paths=paths, action="APPEND")
        new = membership.diff_members(uploaded, confirmed).additions
        ctx.store.confirm_added(ctx.key, new)
        self.added += len(new)
        if rest:
            remaining = membership.diff_members(pd.concat(rest, ignore_index=True), confirmed).additions
            self._append_all(audience_id, self._batches(remaining))

    def apply(self, audience_id: str, additions: pd.DataFrame, removals: pd.DataFrame) -> None:
        """APPEND the additions, then REMOVE the removals, one file per request."""
        # Additions first: the audience then never passes below its final size on the way.
        self._append_all(audience_id, self._batches(additions))
        for n, batch in enumerate(self._batches(removals)):
            self._apply_batch(audience_id, batch, "REMOVE", f"remove-{n}")

    # -- batches and files ------------------------------------------------------------------------

    def _batches(self, identifiers: pd.DataFrame) -> list[pd.DataFrame]:
        size = self.ctx.batch_size
        return [identifiers.iloc[i : i + size] for i in range(0, len(identifiers), size)]

    def _upload(self, batch: pd.DataFrame, label: str) -> str:
        content = customer_file(batch, self.id_types)
        self.bytes_sent += len(content)
        self.requests += 1
        path = self.ctx.client.upload_file(content, calculate_type=self.calculate_type,
                                           file_name=f"{self.ctx.key}-{label}.csv")
        self.renew_lock()
        return path

    def _upload_whole_set(self, identifiers: pd.DataFrame, label: str) -> Uploaded:
        """Upload the files one create/REPLACE may carry; returns their paths, what they hold, and the rest.

        A create or REPLACE takes at most ``MAX_FILE_PATHS`` files; anything beyond is APPENDed after it.
        """
        batches = self._batches(identifiers)
        first, rest = batches[:MAX_FILE_PATHS], batches[MAX_FILE_PATHS:]
        paths = [self._upload(batch, f"{label}-{n}") for n, batch in enumerate(first)]
        return paths, identifiers.iloc[: sum(len(b) for b in first)], rest

    def _append_all(self, audience_id: str, batches: list[pd.DataFrame]) -> None:
        for n, batch in enumerate(batches):
            self._apply_batch(audience_id, batch, "APPEND", f"append-{n}")

    def _apply_batch(self, audience_id: str, batch: pd.DataFrame, action: str, label: str) -> None:
        ctx = self.ctx
        path = self._upload(batch, label)
        removing = action == "REMOVE"
        batch_id = ctx.store.begin_batch(ctx.key, **{"removing" if removing else "adding": batch})
        self.requests += 1
        ctx.client.update_audience(audience_id, file_paths=[path], action=action)
        if removing:
            ctx.store.confirm_removed(ctx.key, batch, batch_id)
            self.removed += len(batch)
        else:
            ctx.store.confirm_added(ctx.key, batch, batch_id)
            self.added += len(batch)
        ctx.log.info("TikTok accepted %s of %d identifiers", action, len(batch))
