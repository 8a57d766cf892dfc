"""What every handler receives and the checks they share: the call context, the envelope, TikTok's
time format, advertiser and scope authorization (40001) and the app credentials (40101)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tiktok_sandbox.config import SCOPE_READ_AUDIENCES, SCOPE_WRITE_AUDIENCES
from tiktok_sandbox.errors import ApiError, Code
from tiktok_sandbox.state import SandboxState, TokenRecord
from tiktok_sandbox.validation import require_id, require_string

_SCOPE_LABELS = {
    SCOPE_READ_AUDIENCES: "Read custom audiences",
    SCOPE_WRITE_AUDIENCES: "Create & update custom audiences",
}


@dataclass(frozen=True)
class UploadedPart:
    """The ``file`` part of a multipart upload."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class CallContext:
    """Everything a handler needs: the state, the caller's token and the decoded parameters."""

    state: SandboxState
    token: TokenRecord | None
    query: Mapping[str, str]
    body: Mapping[str, Any] = field(default_factory=dict)
    upload: UploadedPart | None = None


Handler = Callable[[CallContext], dict[str, Any]]


def format_time(timestamp: float) -> str:
    """TikTok's time format: ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def new_request_id() -> str:
    """A request id shaped like TikTok's (timestamp followed by hex)."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()


def envelope(code: int, message: str, request_id: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The response body TikTok wraps around every answer (``data`` is ``{}`` on error)."""
    return {"code": code, "message": message, "request_id": request_id, "data": data if code == 0 else {}}


def authorize_advertiser(ctx: CallContext, advertiser_id: str, scope: int | None) -> None:
    """Raise 40001 unless the token may act on ``advertiser_id`` with ``scope``."""
    token = ctx.token
    assert token is not None, "authorize_advertiser needs an authenticated endpoint"
    if advertiser_id not in token.advertiser_ids:
        raise ApiError(
            Code.NO_PERMISSION,
            f"No permission to operate advertiser {advertiser_id}: the access token is not authorized for it.",
        )
    if scope is not None and scope not in token.scope:
        raise ApiError(
            Code.NO_PERMISSION,
            f"No permission: the access token lacks scope {scope} ({_SCOPE_LABELS.get(scope, 'required')}), "
            "which this operation requires.",
        )


def advertiser_param(ctx: CallContext, params: Mapping[str, Any], scope: int | None) -> str:
    """Read ``advertiser_id`` from ``params`` and authorize it."""
    advertiser_id = require_id(params, "advertiser_id")
    authorize_advertiser(ctx, advertiser_id, scope)
    return advertiser_id


def check_app_credentials(ctx: CallContext, params: Mapping[str, Any]) -> None:
    """Raise 40101 unless ``app_id``/``secret`` are the sandbox app's."""
    app_id = require_string(params, "app_id")
    secret = require_string(params, "secret")
    config = ctx.state.config
    if app_id != config.app_id or not secrets.compare_digest(secret, config.app_secret):
        raise ApiError(Code.INVALID_APP_CREDENTIALS, "app_id or secret is invalid.")
