"""TikTok's answers: the envelope every endpoint returns, and the typed error for anything but success.

Every answer is ``{"code", "message", "request_id", "data"}`` with ``code`` 0 for success (the
``responses.'200'`` schema of each tiktok/tiktok-business-api-sdk ``yml_files/*.yml``). TikTok's own
errors come back as HTTP 200 with a non-zero code; an HTTP error status means the request never
reached the API logic (docs/decisions.md, "TikTok facts the client relies on", lists the sources).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

import requests

from tiktok_audiences.tiktok.errors import TikTokApiError, TikTokRetryableError, error_for_code

log = logging.getLogger(__name__)

#: TikTok's "partially successful" code, logged as a warning (docs/decisions.md lists its sources).
PARTIAL_SUCCESS = 20001
#: Envelope codes meaning "success".
SUCCESS_CODES = frozenset({0, PARTIAL_SUCCESS})


def log_id(response: requests.Response) -> str:
    """TikTok's ``X-Tt-Logid`` response header, the request id when the body has none."""
    return response.headers.get("X-Tt-Logid", "")


def check_envelope(response: requests.Response, *, conn_id: str) -> None:
    """Check the HTTP status and TikTok's envelope; raise a typed error for anything but success.

    Response bodies are not logged.
    """
    endpoint = urlparse(response.url).path
    if response.status_code >= 500 or response.status_code == 429:
        raise TikTokRetryableError(
            code=None, message=f"HTTP {response.status_code} {response.reason}", request_id=log_id(response),
            endpoint=endpoint, http_status=response.status_code,
        )
    if response.status_code >= 400:
        raise TikTokApiError(
            code=None, message=f"HTTP {response.status_code} {response.reason}", request_id=log_id(response),
            endpoint=endpoint, http_status=response.status_code,
        )
    try:
        body = response.json()
        code = int(body["code"])
    except (ValueError, KeyError, TypeError):
        # A truncated or non-JSON body comes from a proxy or a failing edge, not from TikTok's API
        # logic: worth another attempt.
        raise TikTokRetryableError(
            code=None, message="malformed response (not a TikTok JSON envelope)",
            request_id=log_id(response), endpoint=endpoint, http_status=response.status_code,
        ) from None
    if code in SUCCESS_CODES:
        if code == PARTIAL_SUCCESS:
            log.warning("TikTok reported partial success on %s: %s", endpoint, body.get("message"))
        return
    raise error_for_code(
        code=code,
        message=str(body.get("message") or ""),
        request_id=str(body.get("request_id") or log_id(response) or ""),
        endpoint=endpoint,
        conn_id=conn_id,
    )


def envelope_data(response: requests.Response) -> dict[str, Any]:
    """The ``data`` of a successful answer (``{}`` when TikTok sends none)."""
    return response.json().get("data") or {}
