"""An integration's settings, read from its connection's extra (the token stays in the connection).

An integration is a connection of type ``tiktok_ads``: the access token as its password, the API base
URL as its host, and in its extra the advertiser (``advertiser_id``, required), ``app_id``, ``api``
(``customer_file`` or ``partner``), ``max_qps``, ``busy_wait_seconds`` and ``retry_backoff_seconds``.
These functions check the extra and name the fix when it is wrong; the hook hands them the
connection's values, so nothing here imports Airflow.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from tiktok_audiences.tiktok.errors import TikTokIntegrationError
from tiktok_audiences.tiktok.partner import APIS, DEFAULT_API

#: Requests per second one hook sends at most, unless the connection extra sets ``max_qps``. TikTok's
#: Basic app tier allows 10 QPS per app; a pool of N slots shared by an integration's audiences keeps
#: the app at most N × max_qps.
DEFAULT_MAX_QPS = 5.0
#: How long one update waits for TikTok to finish processing the audience's previous change before
#: the sync stops and leaves the rest to the next run (connection extra ``busy_wait_seconds``).
#: TikTok refuses updates while an audience "is currently being updated or under processing"; its
#: processing can take hours, so the wait is short and the next run carries on.
DEFAULT_BUSY_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class TikTokIntegration:
    """The non-secret half of an integration connection (the token stays in the connection)."""

    conn_id: str
    advertiser_id: str
    app_id: str | None
    base_url: str
    max_qps: float = DEFAULT_MAX_QPS
    #: ``customer_file`` or ``partner`` from the extra ``api``; None when the extra does not say
    api: str | None = None


def extra_value(extra: dict[str, Any], key: str) -> str | None:
    """A text field of the extra, or None when it is absent or empty."""
    # Forms of Airflow < 3.2 stored custom fields as extra__<conn_type>__<field>.
    value = extra.get(key) or extra.get(f"extra__tiktok_ads__{key}")
    return str(value) if value not in (None, "") else None


def check_credentials(conn_id: str, *, password: str | None, extra: dict[str, Any]) -> str:
    """The integration's advertiser id; raises if the token or the advertiser is missing."""
    advertiser_id = extra_value(extra, "advertiser_id")
    if not password:
        raise TikTokIntegrationError(
            f"TikTok integration '{conn_id}' has no access token. Set the integration "
            f"up (or resync it) so that its connection holds a token."
        )
    if not advertiser_id:
        raise TikTokIntegrationError(
            f"TikTok integration '{conn_id}' has no advertiser_id. Add the ad account id "
            f"to the connection extra, e.g. {{\"advertiser_id\": \"7200000000000000001\"}}."
        )
    return advertiser_id


def integration_settings(
    conn_id: str, *, advertiser_id: str, extra: dict[str, Any], base_url: str
) -> TikTokIntegration:
    """The integration of a connection whose credentials :func:`check_credentials` accepted."""
    try:
        raw_qps = extra.get("max_qps")
        max_qps = DEFAULT_MAX_QPS if raw_qps in (None, "") else float(raw_qps)  # 0 turns pacing off
    except (TypeError, ValueError):
        raise TikTokIntegrationError(
            f"TikTok integration '{conn_id}': extra max_qps={extra.get('max_qps')!r} is not a "
            f"number. Set it to the requests per second one sync may send, e.g. 5."
        ) from None
    api = extra_value(extra, "api")
    if api is not None and api.strip().lower() not in APIS:
        raise TikTokIntegrationError(
            f"TikTok integration '{conn_id}': extra api={api!r} is not one of {', '.join(APIS)}. "
            f"Set it to customer_file (files, works for every app) or partner (TikTok's Audience Segment API), "
            f"or remove it to use {DEFAULT_API}."
        )
    return TikTokIntegration(
        conn_id=conn_id,
        advertiser_id=str(advertiser_id),
        app_id=extra_value(extra, "app_id"),
        base_url=base_url,
        max_qps=max_qps,
        api=api.strip().lower() if api else None,
    )


def busy_wait_seconds(conn_id: str, extra: dict[str, Any]) -> float:
    """The extra ``busy_wait_seconds`` (default :data:`DEFAULT_BUSY_WAIT_SECONDS`); raises if it is not a number."""
    raw = extra.get("busy_wait_seconds")
    try:
        value = DEFAULT_BUSY_WAIT_SECONDS if raw in (None, "") else float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if value < 0:
        raise TikTokIntegrationError(
            f"TikTok integration '{conn_id}': extra busy_wait_seconds={raw!r} is not a number of "
            f"seconds. Set it to how long an update may wait for TikTok to finish processing, e.g. 120 (0: no wait)."
        )
    return value


def retry_backoff_seconds(extra: dict[str, Any], default: float) -> float:
    """The extra ``retry_backoff_seconds``: the connection may shorten the backoff (e.g. for a local test server)."""
    return float(extra.get("retry_backoff_seconds", default))


def check_tls_verification(conn_id: str, *, base_url: str, verify: Any) -> None:
    """Refuse a connection that turns TLS verification off for anything but a local test server."""
    if not verify and not is_local(base_url):
        raise TikTokIntegrationError(
            f"TikTok integration '{conn_id}' disables TLS verification for "
            f"{urlparse(base_url).hostname}; that is only allowed for local test servers. "
            f"Remove 'verify' from the connection extra."
        )


def is_local(base_url: str) -> bool:
    host = urlparse(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
