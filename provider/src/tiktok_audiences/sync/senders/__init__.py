"""Senders: how an audience's changes reach TikTok, batch by batch, each confirmed once TikTok accepted it.

:class:`~tiktok_audiences.sync.senders.customer_file.CustomerFileSender` uploads customer files and
applies them (create, APPEND / REMOVE / REPLACE); :class:`~tiktok_audiences.sync.senders.partner.PartnerSender`
creates a Partner audience and mirrors membership with ``/segment/mapping/`` add / delete. Both keep
the contract of :class:`~tiktok_audiences.sync.senders.base.Sender`.
"""

from tiktok_audiences.sync.senders.base import Sender, SenderContext
from tiktok_audiences.sync.senders.customer_file import CustomerFileSender
from tiktok_audiences.sync.senders.partner import PartnerSender

__all__ = ["CustomerFileSender", "PartnerSender", "Sender", "SenderContext"]
