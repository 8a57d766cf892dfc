"""TikTok return codes used by the sandbox and the exception that carries them.

TikTok answers almost every failure with HTTP 200 and a non-zero ``code`` in the envelope (fact
sheet §1, §2). Handlers raise :class:`ApiError`; the dispatcher turns it into that envelope.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """Return codes from TikTok's "Appendix - Return codes" that the sandbox emits."""

    OK = 0
    NO_PERMISSION = 40001
    #: TikTok's general "Parameter error"; the sandbox uses it for every invalid parameter
    #: (40000 exists too, but TikTok's audience endpoints and partner fixtures show 40002).
    PARAMETER_ERROR = 40002
    OBJECT_NOT_FOUND = 40007
    TOO_MANY_IDS = 40011
    RATE_LIMITED = 40100
    INVALID_APP_CREDENTIALS = 40101
    ACCESS_TOKEN_MISSING = 40104
    ACCESS_TOKEN_INVALID = 40105
    AUTH_CODE_INVALID = 40110
    #: App or advertiser not allowlisted for a feature (here: the Audience Segment / partner API).
    NOT_ALLOWLISTED = 40118
    FILE_SIGNATURE_MISMATCH = 40900
    FILE_EMPTY = 40906
    FILE_TOO_LARGE = 40907
    FILE_TYPE_UNSUPPORTED = 40908
    CALCULATE_TYPE_UNSUPPORTED = 40909
    FILE_PATH_EXPIRED = 40910
    #: Sandbox choice inside TikTok's 40905-40915 "invalid file" range: rows that are not valid
    #: hashes, or columns that do not fit the declared calculate_type.
    FILE_CONTENT_INVALID = 40911
    SYSTEM_ERROR = 50000
    MAINTENANCE = 60001


#: TikTok's two audience causes of 40002, in the words of its return-code appendix
#: (https://business-api.tiktok.com/portal/docs?id=1737172488964097, as digested in
#: api-evangelist/tiktok-ads errors/tiktok-ads-error-codes.yml). TikTok gives the cause, not the
#: exact envelope message, so the sandbox answers with the cause verbatim.
BUSY_MESSAGE = "The audience is currently being updated or under processing."
TOO_FEW_MATCHES_MESSAGE = "The audience was created with an audience size of 0 (less than 1000 matches were found)."
#: Refusals a fault can name instead of a code and message (``POST /_sandbox/faults`` ``refusal``).
REFUSALS: dict[str, tuple[int, str]] = {
    "busy": (40002, BUSY_MESSAGE),
    "too_few_matches": (40002, TOO_FEW_MATCHES_MESSAGE),
}

#: Message used when a fault injects a bare code without its own message.
DEFAULT_MESSAGES: dict[int, str] = {
    Code.OK: "OK",
    Code.NO_PERMISSION: "No permission to operate this resource.",
    Code.PARAMETER_ERROR: "Parameter error.",
    Code.OBJECT_NOT_FOUND: "The object does not exist.",
    Code.TOO_MANY_IDS: "Too many ids in one request.",
    Code.RATE_LIMITED: "Due to too many requests, requests from App [{app_id}] are temporarily restricted.",
    Code.INVALID_APP_CREDENTIALS: "app_id or secret is invalid.",
    Code.ACCESS_TOKEN_MISSING: "Access token is null, you should set it in http header with key Access-Token",
    Code.ACCESS_TOKEN_INVALID: "Access token is incorrect or has been revoked.",
    Code.AUTH_CODE_INVALID: "auth_code is invalid, used or expired.",
    Code.NOT_ALLOWLISTED: "The app is not in the allowlist of this feature. Please contact your TikTok representative.",
    Code.SYSTEM_ERROR: "System error, please try again later.",
    Code.MAINTENANCE: "The system is under maintenance, please try again later.",
}


class ApiError(Exception):
    """A failure that TikTok reports as an envelope with a non-zero code and HTTP 200."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = message


def parameter_error(field: str, problem: str) -> ApiError:
    """Build the 40002 error that names the offending ``field``."""
    return ApiError(Code.PARAMETER_ERROR, f"Parameter error: {field}: {problem}")


def default_message(code: int, app_id: str) -> str:
    """Return a plausible message for ``code`` (used by fault injection)."""
    template = DEFAULT_MESSAGES.get(code, f"Error {code} injected by the sandbox.")
    return template.replace("{app_id}", app_id)
