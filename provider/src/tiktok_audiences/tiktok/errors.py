"""Errors of the TikTok client, each carrying TikTok's code, message and request id.

Plain Python exceptions (no Airflow import), so that the TikTok room and the tests use them without
Airflow. A task that raises one fails like with any other exception, retries included: Airflow's
task runner hands ``AirflowException`` and every other ``Exception`` to the same failure handling
(apache/airflow ``task-sdk/src/airflow/sdk/execution_time/task_runner.py``, ``_run_task_and_map_outcome``).
"""

from __future__ import annotations

import re

import requests

#: Rate-limit and transient codes: retried with exponential backoff and jitter.
RETRYABLE_CODES = frozenset({40016, 40100, 40133, 40201, 40202, 50000, 50002, 51305, 60001})
#: Auth codes: fail fast; the integration needs re-authentication.
AUTH_CODES = frozenset({40001, 40102, 40103, 40104, 40105, 40106, 40107})
NOT_FOUND_CODES = frozenset({40007})
#: The app (or advertiser) is not allowlisted for the feature: on /segment/* that is partner access.
NOT_ALLOWLISTED_CODES = frozenset({40118})
#: Endpoints of TikTok's Audience Segment ("partner") API.
PARTNER_ENDPOINT_MARK = "/segment/"

_AUTH_HINTS = {
    40001: "the token lacks a permission this call needs (scope 31 'Create & update custom audiences' "
    "for writes, 30 'Read custom audiences' for reads) or access to the advertiser",
    40102: "the access token has expired",
    40103: "the refresh token has expired",
    40104: "no access token was sent",
    40105: "the access token is invalid or was revoked",
    40106: "the token is not valid for this advertiser",
    40107: "the refresh token is invalid",
}


class TikTokIntegrationError(Exception):
    """The integration (Airflow connection) is missing, incomplete or unsafe."""


class TikTokApiError(Exception):
    """TikTok answered with an error (non-zero envelope code or HTTP error).

    :param code: TikTok's return code (None for HTTP-level errors)
    :param message: TikTok's message
    :param request_id: TikTok's request id, for TikTok support
    :param endpoint: the path that was called
    :param http_status: the HTTP status of the response
    """

    def __init__(
        self,
        *,
        code: int | None,
        message: str,
        request_id: str,
        endpoint: str,
        http_status: int | None = 200,
        hint: str = "",
    ) -> None:
        self.code = code
        self.tiktok_message = message
        self.request_id = request_id
        self.endpoint = endpoint
        self.http_status = http_status
        self.hint = hint
        label = f"TikTok error {code}" if code is not None else "TikTok HTTP error"
        text = f"{label} on {endpoint}: {message or 'no message'}"
        if request_id:
            text += f" (request_id {request_id})"
        if hint:
            text += f". {hint}"
        super().__init__(text)


class TikTokRetryableError(TikTokApiError):
    """Rate limiting or a transient TikTok fault; safe to try again later."""


class TikTokAuthError(TikTokApiError):
    """The token is missing, expired, revoked or lacks permission: re-authenticate the integration."""


class TikTokAudienceNotFound(TikTokApiError):
    """The audience no longer exists on TikTok (deleted on TikTok's side)."""


class TikTokPartnerAccessError(TikTokApiError):
    """The TikTok app may not use the Audience Segment (partner) API; retrying cannot help."""


class TikTokAudienceBusy(TikTokApiError):
    """TikTok refused an update because the audience "is currently being updated or under processing".

    Worth another attempt once TikTok has processed the previous change (see :func:`is_busy_refusal`).
    """

    #: How long the hook waited for TikTok before giving up (set by ``TikTokHook.update_audience``).
    waited_seconds: float = 0.0


class TikTokTooFewMatches(TikTokApiError):
    """TikTok refuses updates of an audience it created with fewer than 1,000 matched users (size 0).

    No retry changes that: the audience must be created anew (see :func:`is_too_few_matches_refusal`).
    """


#: Transport failures another attempt may get past (the request may not have reached TikTok).
_TRANSIENT_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError,
)


def is_transient(error: BaseException) -> bool:
    """Whether another attempt at the same request may succeed: the one place that decides it.

    Transient: TikTok's rate-limit and transient codes (``RETRYABLE_CODES``), HTTP 5xx and 429,
    malformed envelopes (a proxy or failing edge, not TikTok's API logic: the client raises
    :class:`TikTokRetryableError` for all of these), connection errors / timeouts, and TikTok's
    "being updated or under processing" refusal (:func:`is_busy_refusal`: the hook waits it out for
    a bounded time, then the sync stops and the next run sends the rest). Permanent:
    every other TikTok answer, e.g. 40000 / 40002 (bad parameter), 40001 (permission), 40007
    (not found), 409xx (file errors) and HTTP 4xx: TikTok gives the same answer to the same
    request, so retrying only uploads the files again.
    """
    if isinstance(error, (TikTokAuthError, TikTokPartnerAccessError)):
        return False
    if isinstance(error, TikTokRetryableError) or is_busy_refusal(error):
        return True
    if isinstance(error, TikTokApiError):
        # A TikTokApiError built outside error_for_code still counts by its code and HTTP status.
        status = error.http_status or 0
        return error.code in RETRYABLE_CODES or (error.code is None and (status >= 500 or status == 429))
    return isinstance(error, _TRANSIENT_TRANSPORT_ERRORS)


def is_permanent_tiktok_error(error: BaseException) -> bool:
    """A TikTok answer no retry can change: the task should fail once, not be retried by Airflow."""
    return isinstance(error, TikTokApiError) and not is_transient(error)


#: TikTok's wording when a parameter error (40002) is about an audience id it does not know, e.g.
#: "Parameter error: invalid audience ID" (segmentio/action-destinations tiktok-audiences
#: syncAudience/__tests__/index.test.ts). 40002 covers many parameter errors, so the message decides.
_UNKNOWN_AUDIENCE_WORDING = re.compile(
    r"\b(invalid|unknown)\s+(custom[\s_]+)?audience[\s_]*ids?\b"
    r"|\baudience[\s_]*(ids?\s+)?(\S+\s+)?(does\s+not|doesn't|do\s+not)\s+exist"
    r"|\baudience[\s_]*(ids?\s+)?(\S+\s+)?(is\s+)?not\s+found",
    re.IGNORECASE,
)


def is_unknown_audience_refusal(error: BaseException) -> bool:
    """TikTok's 40002 parameter error saying the audience id is invalid or does not exist.

    Only meaningful for a request naming one audience (get_audience): TikTok does not say which id.
    """
    return (
        isinstance(error, TikTokApiError)
        and error.code == 40002
        and bool(_UNKNOWN_AUDIENCE_WORDING.search(error.tiktok_message or ""))
    )


#: TikTok's return-code appendix lists two audience causes of 40002 (api-evangelist/tiktok-ads
#: errors/tiktok-ads-error-codes.yml, a digest of https://business-api.tiktok.com/portal/docs?id=1737172488964097):
#: "The audience is currently being updated or under processing." and "The audience was created
#: with an audience size of 0 (less than 1000 matches were found)." 40002 is also TikTok's code for
#: every other parameter error, so the message decides; the patterns take TikTok's key phrases only.
_BUSY_WORDING = re.compile(r"\bbeing\s+updated\b|\bunder\s+processing\b", re.IGNORECASE)
_TOO_FEW_MATCHES_WORDING = re.compile(
    r"\baudience\s+size\s+of\s+0\b|\b(less|fewer)\s+than\s+1,?000\s+match", re.IGNORECASE
)


def _is_40002_saying(error: BaseException, wording: re.Pattern[str]) -> bool:
    return (
        isinstance(error, TikTokApiError) and error.code == 40002 and bool(wording.search(error.tiktok_message or ""))
    )


def is_busy_refusal(error: BaseException) -> bool:
    """TikTok's 40002 for an update while the audience "is currently being updated or under processing"."""
    return _is_40002_saying(error, _BUSY_WORDING)


def is_too_few_matches_refusal(error: BaseException) -> bool:
    """TikTok's 40002 for an update of an audience "created with an audience size of 0 (less than 1000 matches
    were found)"."""
    return _is_40002_saying(error, _TOO_FEW_MATCHES_WORDING) and not is_busy_refusal(error)


def partner_access_hint(conn_id: str) -> str:
    return (
        "Partner audience access (TikTok's Audience Segment API, /segment/audience/ and /segment/mapping/) is not "
        "enabled for this TikTok app: ask your TikTok representative to allowlist the app for it, or send this "
        f"audience as a customer file instead (api: customer_file in the audience file, or \"api\": "
        f"\"customer_file\" in the extra of integration '{conn_id}')"
    )


def error_for_code(*, code: int, message: str, request_id: str, endpoint: str, conn_id: str) -> TikTokApiError:
    """The typed error for a TikTok envelope code."""
    partner = PARTNER_ENDPOINT_MARK in f"/{endpoint.strip('/')}/"
    if partner and code in NOT_ALLOWLISTED_CODES:
        return TikTokPartnerAccessError(
            code=code, message=message, request_id=request_id, endpoint=endpoint, hint=partner_access_hint(conn_id)
        )
    if partner and code == 40001:
        # On /segment/* a permission error is either a missing scope or an app without partner access.
        hint = (
            f"{partner_access_hint(conn_id)}. If the app does have partner access, the token lacks scope 31 "
            f"'Create & update custom audiences': re-authenticate the integration '{conn_id}' (Resync integration)"
        )
        return TikTokPartnerAccessError(code=code, message=message, request_id=request_id, endpoint=endpoint, hint=hint)
    if code in NOT_ALLOWLISTED_CODES:
        hint = "the TikTok app or ad account is not allowlisted for this feature: ask your TikTok representative"
        return TikTokApiError(code=code, message=message, request_id=request_id, endpoint=endpoint, hint=hint)
    if code in AUTH_CODES:
        hint = (
            f"{_AUTH_HINTS.get(code, 'authorization failed')}: re-authenticate the integration "
            f"'{conn_id}' (Resync integration), then re-run"
        )
        return TikTokAuthError(code=code, message=message, request_id=request_id, endpoint=endpoint, hint=hint)
    if code in RETRYABLE_CODES:
        return TikTokRetryableError(code=code, message=message, request_id=request_id, endpoint=endpoint)
    if code in NOT_FOUND_CODES:
        return TikTokAudienceNotFound(code=code, message=message, request_id=request_id, endpoint=endpoint)
    plain = TikTokApiError(code=code, message=message, request_id=request_id, endpoint=endpoint)
    if is_busy_refusal(plain):
        return TikTokAudienceBusy(code=code, message=message, request_id=request_id, endpoint=endpoint)
    if is_too_few_matches_refusal(plain):
        return TikTokTooFewMatches(code=code, message=message, request_id=request_id, endpoint=endpoint)
    return plain
