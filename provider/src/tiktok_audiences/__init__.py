"""tiktok-audience-sync: keep TikTok Ads custom audiences in sync with contact-database segments."""

from __future__ import annotations

__version__ = "0.1.0"
