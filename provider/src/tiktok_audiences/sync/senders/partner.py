"""The partner sender: a Partner audience (``/segment/audience/``) whose members are mirrored with
``/segment/mapping/`` add / delete, at most 10,000 users and one ``id_schema`` per request.
"""

from __future__ import annotations

import pandas as pd

from tiktok_audiences.members import membership
from tiktok_audiences.metadata import utcnow
from tiktok_audiences.sync.errors import reconciled_on_retry
from tiktok_audiences.sync.senders.base import Sender
from tiktok_audiences.tiktok.partner import PARTNER, mapping_batch, mapping_batches, partner_audience_name


class PartnerSender(Sender):
    """Creates a Partner audience and mirrors membership; the same contract as the customer-file sender."""

    api = PARTNER  # Partner audiences have no customer-file encryption type (calculate_type None)

    def create(self, identifiers: pd.DataFrame) -> str:
        """Create the (empty) Partner audience, then add ``identifiers`` to it."""
        ctx = self.ctx
        ctx.store.update_audience(ctx.key, create_started_at=utcnow())
        self.requests += 1
        with reconciled_on_retry("the TikTok audience"):
            audience_id = ctx.client.create_partner_audience(partner_audience_name(ctx.name))
        self.record_created(audience_id)
        ctx.store.forget_confirmed(ctx.key)  # a new audience starts empty (the journal too)
        ctx.log.info("Created TikTok audience %s (Partner, empty); adding %d identifiers", audience_id,
                     len(identifiers))
        self.apply(audience_id, identifiers, identifiers.iloc[0:0])
        return audience_id

    def apply(self, audience_id: str, additions: pd.DataFrame, removals: pd.DataFrame,
              already_confirmed: membership.Identifiers | None = None) -> None:
        """Add, then delete, in batches of at most 10,000 users.

        :param already_confirmed: for a full resync, which re-adds identifiers already confirmed:
            only the others are recorded (and counted) as added
        """
        # Additions first: the audience then never passes below its final size on the way.
        for batch in mapping_batches(additions, self.ctx.batch_size):
            self._map(audience_id, batch, "add", already_confirmed)
        for batch in mapping_batches(removals, self.ctx.batch_size):
            self._map(audience_id, batch, "delete")

    def _map(self, audience_id: str, batch: pd.DataFrame, action: str,
             already_confirmed: membership.Identifiers | None = None) -> None:
        ctx = self.ctx
        payload = mapping_batch(audience_id, batch)
        if action == "delete":
            batch_id = ctx.store.begin_batch(ctx.key, removing=batch)
        else:
            new = batch if already_confirmed is None else membership.diff_members(batch, already_confirmed).additions
            batch_id = ctx.store.begin_batch(ctx.key, adding=new)
        self.requests += 1
        self.bytes_sent += ctx.client.map_members(action=action, id_schema=payload.id_schema,
                                                  batch_data=payload.batch_data)
        if action == "delete":
            ctx.store.confirm_removed(ctx.key, batch, batch_id)
            self.removed += len(batch)
        else:
            ctx.store.confirm_added(ctx.key, new, batch_id)
            self.added += len(new)
        self.renew_lock()
        ctx.log.info("TikTok accepted mapping %s of %d identifiers", action, len(batch))
