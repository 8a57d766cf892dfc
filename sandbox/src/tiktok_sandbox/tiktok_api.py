"""TikTok Marketing API v1.3 routes (``/open_api/v1.3/...``) and the pipeline every call goes through.

Pipeline of one call, in TikTok's order:

1. fault injection (scripted failures that stand in for the network or TikTok's servers),
2. ``Access-Token`` header: missing -> 40104, unknown/revoked -> 40105,
3. per-token QPS limit -> 40100,
4. body decoding (JSON object, multipart form, or query string),
5. TikTok's contract (``tiktok_sandbox/contract/tiktok_api.json``): a request that breaks it is
   refused with 40002 naming the field and recorded as a contract violation,
6. the endpoint handler: parameter checks (40002), advertiser and scope checks (40001), then the
   state change,
7. the answer's ``data`` is checked against the contract's response schema; a mismatch (the
   sandbox inventing or misnaming a field) is recorded as a violation of kind "response".

Every outcome is HTTP 200 with ``{"code", "message", "request_id", "data"}``; only unknown paths
(HTTP 404) and injected HTTP faults have another status.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal, cast

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from tiktok_sandbox.config import INVALID_AUDIENCE_ID_MESSAGE, SCOPE_READ_AUDIENCES, SCOPE_WRITE_AUDIENCES
from tiktok_sandbox.contract import check_request, check_response, endpoint_contract
from tiktok_sandbox.errors import ApiError, Code, default_message, parameter_error
from tiktok_sandbox.identifiers import (
    CALCULATE_TYPES,
    CREATE_CALCULATE_TYPES,
    SEGMENT_ID_TYPES,
    canonical_calculate_type,
    is_hex_hash,
    parse_customer_file,
)
from tiktok_sandbox.state import (
    AudienceSnapshot,
    Fault,
    MappingAction,
    MappingChange,
    SandboxState,
    TokenRecord,
    UpdateAction,
)
from tiktok_sandbox.validation import (
    check_id,
    check_list,
    json_query_list,
    optional_bool,
    optional_int,
    optional_string,
    require_enum,
    require_id,
    require_id_list,
    require_list,
    require_string,
)

API_PREFIX = "/open_api/v1.3"
#: Key under ``request.state`` where the envelope code is left for the request log.
LOG_CODE_ATTRIBUTE = "tiktok_code"

_SCOPE_LABELS = {
    SCOPE_READ_AUDIENCES: "Read custom audiences",
    SCOPE_WRITE_AUDIENCES: "Create & update custom audiences",
}
_SEGMENT_NAME_LIMIT = 70
_SUB_TYPES = ("NORMAL", "REACH_FREQUENCY")
_EXPIRING_WINDOW_SECONDS = 60 * 86400.0


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
PayloadKind = Literal["query", "json", "multipart"]


@dataclass(frozen=True)
class Endpoint:
    """One TikTok route."""

    path: str
    method: Literal["GET", "POST"]
    handler: Handler
    payload: PayloadKind
    needs_token: bool = True
    summary: str = ""


# ===================================================================== formatting helpers


def format_time(timestamp: float) -> str:
    """TikTok's time format: ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def new_request_id() -> str:
    """A request id shaped like TikTok's (timestamp followed by hex)."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()


def envelope(code: int, message: str, request_id: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The response body TikTok wraps around every answer (``data`` is ``{}`` on error)."""
    return {"code": code, "message": message, "request_id": request_id, "data": data if code == 0 else {}}


def audience_details(snapshot: AudienceSnapshot, now: float, *, kind_field: str = "audience_type") -> dict[str, Any]:
    """Render an audience the way list items and ``audience_details`` look.

    :param kind_field: the name of the audience kind: list items call it ``audience_type``, get's
        ``audience_details`` call it ``type`` (response rules of yml_files/dmp_custom_audience_get.yml
        in tiktok/tiktok-business-api-sdk; Segment's captured get fixture shows ``type`` too)
    """
    expired = now >= snapshot.expires_at
    details: dict[str, Any] = {
        "audience_id": snapshot.audience_id,
        "name": snapshot.name,
        kind_field: snapshot.audience_type,
        "audience_sub_type": snapshot.sub_type,
        "calculate_type": snapshot.calculate_type,
        "cover_num": 0 if expired else snapshot.cover_num,
        "is_valid": snapshot.is_valid and not expired,
        "is_expiring": snapshot.expires_at - now <= _EXPIRING_WINDOW_SECONDS,
        "expired_time": format_time(snapshot.expires_at),
        "create_time": format_time(snapshot.created_at),
        "shared": False,
        "is_creator": True,
        "owner_id": snapshot.advertiser_id,
        "is_auto_refresh": False,
        "msg": snapshot.msg,
        "error_msg": None,
    }
    if snapshot.lookalike_spec is not None:
        details["lookalike_spec"] = dict(snapshot.lookalike_spec)
    return details


def audience_history(snapshot: AudienceSnapshot, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` history entries, newest first."""
    entries = list(reversed(snapshot.history))[:limit]
    return [
        {
            "action": entry.action,
            "action_detail": entry.action_detail,
            "editor": "open_api",
            "msg": entry.msg,
            "opt_time": format_time(entry.opt_time),
        }
        for entry in entries
    ]


# ===================================================================== auth helpers


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


# ===================================================================== OAuth & account handlers


def oauth_access_token(ctx: CallContext) -> dict[str, Any]:
    """POST oauth2/access_token/: exchange a single-use auth_code for a long-term token."""
    check_app_credentials(ctx, ctx.body)
    auth_code = require_string(ctx.body, "auth_code")
    return_advertiser_ids = optional_bool(ctx.body, "return_advertiser_ids")
    record = ctx.state.redeem_auth_code(auth_code)
    data: dict[str, Any] = {"access_token": record.token, "scope": list(record.scope)}
    # Tokens reaching thousands of accounts can skip the list (bububa/tiktok-business
    # model/oauth/access_token.go, return_advertiser_ids); default is to send it.
    if return_advertiser_ids is not False:
        data["advertiser_ids"] = list(record.advertiser_ids)
    return data


def oauth_advertiser_get(ctx: CallContext) -> dict[str, Any]:
    """GET oauth2/advertiser/get/: the advertisers the token may act on."""
    check_app_credentials(ctx, ctx.query)
    assert ctx.token is not None
    config = ctx.state.config
    return {
        "list": [
            {"advertiser_id": advertiser_id, "advertiser_name": config.advertiser_name(advertiser_id)}
            for advertiser_id in ctx.token.advertiser_ids
        ]
    }


def oauth_revoke_token(ctx: CallContext) -> dict[str, Any]:
    """POST oauth2/revoke_token/: revoke a token; answers with the accounts that lost access."""
    check_app_credentials(ctx, ctx.body)
    token = require_string(ctx.body, "access_token")
    record = ctx.state.revoke_token(token)
    if record is None:
        raise ApiError(Code.ACCESS_TOKEN_INVALID, "Access token is incorrect or has been revoked.")
    return {"app_id": ctx.state.config.app_id, "advertiser_ids": list(record.advertiser_ids)}


def user_info(ctx: CallContext) -> dict[str, Any]:
    """GET user/info/: cheap token check used by Segment.

    segmentio/action-destinations packages/destination-actions/src/destinations/tiktok-audiences/api/index.ts.
    """
    return {
        "core_user_id": "7000000000000000001",
        "display_name": "Sandbox User",
        "email": "sandbox-user@example.com",
        "avatar_url": "",
        "create_time": 1_700_000_000,
    }


def advertiser_info(ctx: CallContext) -> dict[str, Any]:
    """GET advertiser/info/?advertiser_ids=[...]: names of authorized advertisers."""
    raw = json_query_list(ctx.query, "advertiser_ids", required=True)
    assert raw is not None
    advertiser_ids = [
        check_id(f"advertiser_ids[{i}]", v)
        for i, v in enumerate(check_list("advertiser_ids", raw, min_items=1, max_items=100))
    ]
    config = ctx.state.config
    for advertiser_id in advertiser_ids:
        authorize_advertiser(ctx, advertiser_id, None)
    return {
        "list": [
            {
                "advertiser_id": advertiser_id,
                "name": config.advertiser_name(advertiser_id),
                "status": "STATUS_ENABLE",
                "currency": "USD",
                "timezone": "Etc/GMT",
            }
            for advertiser_id in advertiser_ids
        ]
    }


# ===================================================================== customer file handlers


def file_upload(ctx: CallContext) -> dict[str, Any]:
    """POST dmp/custom_audience/file/upload/ (multipart): store a customer file, return its file_path."""
    advertiser_id = advertiser_param(ctx, ctx.body, SCOPE_WRITE_AUDIENCES)
    calculate_type = require_enum(ctx.body, "calculate_type", CALCULATE_TYPES, code=Code.CALCULATE_TYPE_UNSUPPORTED)
    signature = require_string(ctx.body, "file_signature")
    upload = ctx.upload
    if upload is None:
        raise parameter_error("file", "is required and must be sent as a file part")
    name = optional_string(ctx.body, "name") or optional_string(ctx.body, "file_name")
    if not upload.filename.endswith((".csv", ".txt")):
        raise ApiError(
            Code.FILE_TYPE_UNSUPPORTED,
            f"Unsupported file type {upload.filename!r}: only files ending in .csv or .txt are accepted.",
        )
    config = ctx.state.config
    if len(upload.content) > config.max_file_bytes:
        raise ApiError(Code.FILE_TOO_LARGE, f"The file exceeds the maximum size of {config.max_file_bytes} bytes.")
    if not upload.content:
        raise ApiError(Code.FILE_EMPTY, "The file is empty.")
    if hashlib.md5(upload.content).hexdigest() != signature.strip().lower():
        raise ApiError(
            Code.FILE_SIGNATURE_MISMATCH,
            "file_signature does not match the MD5 of the uploaded file. Compute it over the exact bytes sent.",
        )
    canonical = canonical_calculate_type(calculate_type)
    # Parsing happens outside the state lock: it is the slow part and touches no shared data.
    parsed = parse_customer_file(upload.content, canonical)
    file_path = ctx.state.store_file(advertiser_id, canonical, parsed.members, name)
    return {"file_path": file_path}


def _file_paths(params: Mapping[str, Any], *, required: bool) -> list[str] | None:
    if params.get("file_paths") is None and not required:
        return None
    paths = require_list(params, "file_paths", min_items=1, max_items=500)
    for index, path in enumerate(paths):
        if not isinstance(path, str) or not path:
            raise parameter_error(f"file_paths[{index}]", "should be a non-empty string")
    return paths


def audience_create(ctx: CallContext) -> dict[str, Any]:
    """POST dmp/custom_audience/create/: create a Customer File Audience from uploaded files."""
    body = ctx.body
    advertiser_id = advertiser_param(ctx, body, SCOPE_WRITE_AUDIENCES)
    name = require_string(body, "custom_audience_name", max_length=128)
    # Create's enum is strict and has no MAID_* (those exist only on upload): MAID_SHA256 -> 40002.
    calculate_type = require_enum(body, "calculate_type", CREATE_CALCULATE_TYPES)
    file_paths = _file_paths(body, required=True)
    assert file_paths is not None
    sub_type = require_enum(body, "audience_sub_type", _SUB_TYPES, default="NORMAL")
    retention = optional_int(body, "retention_in_days", default=None, minimum=1, maximum=365)
    enhancement = optional_bool(body, "audience_enhancement")
    audience_id = ctx.state.create_customer_file_audience(
        advertiser_id, name, calculate_type, file_paths, sub_type, retention, bool(enhancement)
    )
    return {"custom_audience_id": audience_id}


def audience_update(ctx: CallContext) -> dict[str, Any]:
    """POST dmp/custom_audience/update/: rename and/or APPEND/REMOVE/REPLACE members."""
    body = ctx.body
    advertiser_id = advertiser_param(ctx, body, SCOPE_WRITE_AUDIENCES)
    audience_id = require_id(body, "custom_audience_id")
    name = optional_string(body, "custom_audience_name", max_length=128)
    file_paths = _file_paths(body, required=False)
    action = require_enum(body, "action", ("APPEND", "REMOVE", "REPLACE"), default="REPLACE")
    sub_type = optional_string(body, "audience_sub_type")
    if sub_type is not None:
        # TikTok: when audience_sub_type is set, the other changes in the request are ignored.
        require_enum(body, "audience_sub_type", _SUB_TYPES)
        ctx.state.change_sub_type(advertiser_id, audience_id, sub_type)
        return {}
    if name is None and file_paths is None:
        raise parameter_error("custom_audience_name, file_paths", "one of them is required")
    ctx.state.update_customer_file_audience(
        advertiser_id,
        audience_id,
        name=name,
        file_paths=file_paths,
        action=cast(UpdateAction, action),  # require_enum only returns listed values
    )
    return {}


def _query_audience_ids(ctx: CallContext, *, required: bool) -> list[str] | None:
    raw = json_query_list(ctx.query, "custom_audience_ids", required=required)
    if raw is None:
        return None
    values = check_list("custom_audience_ids", raw, min_items=1, max_items=100)
    return [check_id(f"custom_audience_ids[{index}]", value) for index, value in enumerate(values)]


def audience_get(ctx: CallContext) -> dict[str, Any]:
    """GET dmp/custom_audience/get/: details and history; unknown ids absent, or 40002 (``unknown_audience_get``)."""
    advertiser_id = advertiser_param(ctx, ctx.query, SCOPE_READ_AUDIENCES)
    audience_ids = _query_audience_ids(ctx, required=True)
    assert audience_ids is not None
    history_size = optional_int(ctx.query, "history_size", default=100, minimum=1, maximum=100)
    assert history_size is not None
    now = ctx.state.now()
    snapshots = ctx.state.get_audiences(advertiser_id, audience_ids)
    if ctx.state.config.unknown_audience_get == "invalid_id_error" and len(snapshots) < len(set(audience_ids)):
        raise ApiError(Code.PARAMETER_ERROR, INVALID_AUDIENCE_ID_MESSAGE)
    return {
        "list": [
            {
                # audience_enhancement is in get's response spec (yml_files/dmp_custom_audience_get.yml), not list's.
                "audience_details": {**audience_details(snapshot, now, kind_field="type"),
                                     "audience_enhancement": snapshot.audience_enhancement},
                "audience_history": audience_history(snapshot, history_size),
            }
            for snapshot in snapshots
        ]
    }


def audience_list(ctx: CallContext) -> dict[str, Any]:
    """GET dmp/custom_audience/list/: one page of the advertiser's audiences, newest first."""
    advertiser_id = advertiser_param(ctx, ctx.query, SCOPE_READ_AUDIENCES)
    audience_ids = _query_audience_ids(ctx, required=False)
    page = optional_int(ctx.query, "page", default=1, minimum=1, maximum=None)
    page_size = optional_int(ctx.query, "page_size", default=10, minimum=1, maximum=100)
    assert page is not None and page_size is not None
    snapshots = ctx.state.list_audiences(advertiser_id, audience_ids)
    now = ctx.state.now()
    start = (page - 1) * page_size
    return {
        "list": [audience_details(s, now) for s in snapshots[start : start + page_size]],
        "page_info": {
            "page": page,
            "page_size": page_size,
            "total_number": len(snapshots),
            "total_page": math.ceil(len(snapshots) / page_size),
        },
    }


def audience_delete(ctx: CallContext) -> dict[str, Any]:
    """POST dmp/custom_audience/delete/: delete up to 100 audiences (all or nothing)."""
    advertiser_id = advertiser_param(ctx, ctx.body, SCOPE_WRITE_AUDIENCES)
    audience_ids = require_id_list(ctx.body, "custom_audience_ids", min_items=1, max_items=100)
    ctx.state.delete_audiences(advertiser_id, audience_ids)
    return {}


# ===================================================================== lookalike handlers

#: lookalike_spec enums (SDK yml dmp_custom_audience_lookalike_create); placements as TikTok's SDK spells them.
LOOKALIKE_SIZES = ("NARROW", "BALANCED", "BROAD")
LOOKALIKE_MOBILE_OS = ("ALL", "ANDROID", "IOS")
LOOKALIKE_PLACEMENTS = ("TikTok", "TopBuzz & BuzzVideo", "Pangle")


def _lookalike_spec(body: Mapping[str, Any]) -> dict[str, Any]:
    spec = body.get("lookalike_spec")
    if spec is None:
        raise parameter_error("lookalike_spec", "is required")
    if not isinstance(spec, dict):
        raise parameter_error("lookalike_spec", "should be an object")
    source_id = require_id(spec, "source_audience_id")
    include_source = spec.get("include_source")
    if include_source is None:
        raise parameter_error("lookalike_spec.include_source", "is required")
    if not isinstance(include_source, bool):
        raise parameter_error("lookalike_spec.include_source", "should be a boolean")
    mobile_os = require_enum(spec, "mobile_os", LOOKALIKE_MOBILE_OS)
    audience_size = require_enum(spec, "audience_size", LOOKALIKE_SIZES)
    placements = require_list(spec, "placements", min_items=1, max_items=None)
    for index, placement in enumerate(placements):
        if not isinstance(placement, str) or placement not in LOOKALIKE_PLACEMENTS:
            raise parameter_error(f"lookalike_spec.placements[{index}]",
                                  f"{placement!r} is not one of {', '.join(LOOKALIKE_PLACEMENTS)}")
    location_ids = require_list(spec, "location_ids", min_items=1, max_items=None)
    for index, location in enumerate(location_ids):
        if not isinstance(location, str) or not location.strip():
            raise parameter_error(f"lookalike_spec.location_ids[{index}]", "should be a location id string")
    return {
        "source_audience_id": source_id,
        "include_source": include_source,
        "mobile_os": mobile_os,
        "placements": list(placements),
        "location_ids": list(location_ids),
        "audience_size": audience_size,
    }


def lookalike_create(ctx: CallContext) -> dict[str, Any]:
    """POST dmp/custom_audience/lookalike/create/: a Lookalike Audience of an existing audience."""
    body = ctx.body
    advertiser_id = advertiser_param(ctx, body, SCOPE_WRITE_AUDIENCES)
    name = require_string(body, "custom_audience_name", max_length=128)
    spec = _lookalike_spec(body)
    return {"custom_audience_id": ctx.state.create_lookalike_audience(advertiser_id, name, spec)}


def lookalike_update(ctx: CallContext) -> dict[str, Any]:
    """POST dmp/custom_audience/lookalike/update/: refresh lookalikes from their seed (no spec change)."""
    advertiser_id = advertiser_param(ctx, ctx.body, SCOPE_WRITE_AUDIENCES)
    audience_ids = require_id_list(ctx.body, "custom_audience_ids", min_items=1, max_items=100)
    ctx.state.refresh_lookalikes(advertiser_id, audience_ids)
    return {}


# ===================================================================== Segment (Partner) API handlers


def require_partner_access(ctx: CallContext) -> None:
    """Raise 40118 when the app is not allowlisted for the Audience Segment API (``partner_api_enabled``)."""
    if not ctx.state.config.partner_api_enabled:
        raise ApiError(
            Code.NOT_ALLOWLISTED,
            f"App [{ctx.state.config.app_id}] is not in the allowlist of the Audience Segment API. "
            "Please contact your TikTok representative.",
        )


def segment_audience(ctx: CallContext) -> dict[str, Any]:
    """POST segment/audience/: create or delete a Partner audience."""
    require_partner_access(ctx)
    body = ctx.body
    advertiser_id = advertiser_param(ctx, body, SCOPE_WRITE_AUDIENCES)
    action = require_enum(body, "action", ("create", "delete"), default="create")
    if action == "delete":
        audience_id = require_id(body, "delete_audience_id")
        ctx.state.delete_partner_audience(advertiser_id, audience_id)
        return {"audience_id": audience_id}
    name = require_string(body, "custom_audience_name")
    if len(name) > _SEGMENT_NAME_LIMIT:
        name = name[: _SEGMENT_NAME_LIMIT - 3] + "..."
    return {"audience_id": ctx.state.create_partner_audience(advertiser_id, name)}


def _id_schema(body: Mapping[str, Any]) -> list[str]:
    raw = require_list(body, "id_schema", min_items=1, max_items=len(SEGMENT_ID_TYPES))
    schema: list[str] = []
    for index, value in enumerate(raw):
        name = f"id_schema[{index}]"
        if not isinstance(value, str) or value.upper() not in SEGMENT_ID_TYPES:
            raise parameter_error(name, f"{value!r} is not one of {', '.join(sorted(SEGMENT_ID_TYPES))}")
        if value.upper() in schema:
            raise parameter_error(name, f"duplicate id type {value.upper()}")
        schema.append(value.upper())
    return schema


def _mapping_changes(body: Mapping[str, Any], schema: list[str], max_users: int) -> list[MappingChange]:
    batch = body.get("batch_data")
    if isinstance(batch, list) and len(batch) > max_users:
        raise ApiError(
            Code.TOO_MANY_IDS, f"Too many users in batch_data: {len(batch):,}; at most {max_users:,} per request."
        )
    users = require_list(body, "batch_data", min_items=1, max_items=None)
    changes: list[MappingChange] = []
    for row, user in enumerate(users):
        if not isinstance(user, list) or len(user) != len(schema):
            raise parameter_error(
                f"batch_data[{row}]", f"should be a list of {len(schema)} item(s), one per id_schema entry"
            )
        for column, (id_type, item) in enumerate(zip(schema, user, strict=True)):
            changes.extend(_mapping_item(f"batch_data[{row}][{column}]", id_type, item))
    return changes


def _mapping_item(name: str, id_type: str, item: Any) -> list[MappingChange]:
    if not isinstance(item, dict):
        raise parameter_error(name, "should be an object")
    if not item:
        return []  # {} keeps positional alignment for a user without this identifier
    value = item.get("id")
    if not isinstance(value, str) or not is_hex_hash(value.lower(), id_type):
        raise parameter_error(f"{name}.id", f"is not a valid {id_type} hash")
    audience_ids = require_id_list(item, "audience_ids", min_items=1, max_items=None)
    return [MappingChange(audience_id, id_type, value.lower()) for audience_id in audience_ids]


def segment_mapping(ctx: CallContext) -> dict[str, Any]:
    """POST segment/mapping/: add or delete hashed ids in Partner audiences."""
    require_partner_access(ctx)
    body = ctx.body
    advertiser_ids = require_id_list(body, "advertiser_ids", min_items=1, max_items=None)
    for advertiser_id in advertiser_ids:
        authorize_advertiser(ctx, advertiser_id, SCOPE_WRITE_AUDIENCES)
    action = require_enum(body, "action", ("add", "delete"), default="add")
    schema = _id_schema(body)
    changes = _mapping_changes(body, schema, ctx.state.config.max_mapping_users)
    ctx.state.apply_mapping(advertiser_ids, cast(MappingAction, action), changes)
    return {}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "oauth2/access_token/", "POST", oauth_access_token, "json", needs_token=False, summary="Exchange auth_code"
    ),
    Endpoint("oauth2/advertiser/get/", "GET", oauth_advertiser_get, "query", summary="Authorized advertisers"),
    Endpoint("oauth2/revoke_token/", "POST", oauth_revoke_token, "json", needs_token=False, summary="Revoke a token"),
    Endpoint("user/info/", "GET", user_info, "query", summary="Token owner"),
    Endpoint("advertiser/info/", "GET", advertiser_info, "query", summary="Advertiser details"),
    Endpoint("dmp/custom_audience/file/upload/", "POST", file_upload, "multipart", summary="Upload a customer file"),
    Endpoint("dmp/custom_audience/create/", "POST", audience_create, "json", summary="Create a customer file audience"),
    Endpoint("dmp/custom_audience/update/", "POST", audience_update, "json", summary="Update an audience"),
    Endpoint("dmp/custom_audience/get/", "GET", audience_get, "query", summary="Audience details"),
    Endpoint("dmp/custom_audience/list/", "GET", audience_list, "query", summary="List audiences"),
    Endpoint("dmp/custom_audience/delete/", "POST", audience_delete, "json", summary="Delete audiences"),
    Endpoint(
        "dmp/custom_audience/lookalike/create/", "POST", lookalike_create, "json", summary="Create a lookalike audience"
    ),
    Endpoint(
        "dmp/custom_audience/lookalike/update/", "POST", lookalike_update, "json", summary="Refresh lookalike audiences"
    ),
    Endpoint("segment/audience/", "POST", segment_audience, "json", summary="Create/delete a Partner audience"),
    Endpoint("segment/mapping/", "POST", segment_mapping, "json", summary="Add/delete ids in Partner audiences"),
)


# ===================================================================== pipeline


def _authenticate(state: SandboxState, header: str | None, endpoint: Endpoint) -> TokenRecord | None:
    """Resolve the ``Access-Token`` header: 40104 when missing, 40105 when unknown or revoked, 40100 when throttled."""
    if not endpoint.needs_token:
        return None
    token = (header or "").strip()
    if not token:
        raise ApiError(
            Code.ACCESS_TOKEN_MISSING,
            "Access token is null, you should set it in http header with key Access-Token",
        )
    record = state.lookup_token(token)
    if record is None or record.revoked:
        raise ApiError(Code.ACCESS_TOKEN_INVALID, "Access token is incorrect or has been revoked.")
    if not state.admit_request(token):
        raise ApiError(Code.RATE_LIMITED, default_message(Code.RATE_LIMITED, state.config.app_id))
    return record


async def _read_json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(Code.PARAMETER_ERROR, "Parameter error: the request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(Code.PARAMETER_ERROR, "Parameter error: the request body should be a JSON object.")
    return body


async def _read_multipart(request: Request) -> tuple[dict[str, Any], UploadedPart | None]:
    fields: dict[str, Any] = {}
    upload: UploadedPart | None = None
    try:
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if key == "file":
                        upload = UploadedPart(filename=value.filename or "", content=await value.read())
                else:
                    fields[key] = value
    except (HTTPException, ValueError) as exc:  # starlette reports a broken body as HTTPException(400)
        raise ApiError(Code.PARAMETER_ERROR, "Parameter error: the multipart/form-data body is malformed.") from exc
    return fields, upload


async def _build_context(
    state: SandboxState, request: Request, endpoint: Endpoint, token: TokenRecord | None
) -> CallContext:
    query = dict(request.query_params)
    if endpoint.payload == "json":
        return CallContext(state, token, query, await _read_json_object(request))
    if endpoint.payload == "multipart":
        fields, upload = await _read_multipart(request)
        return CallContext(state, token, query, fields, upload)
    return CallContext(state, token, query)


def _enforce_contract(state: SandboxState, endpoint: Endpoint, ctx: CallContext) -> None:
    """Refuse with 40002 what TikTok's spec refuses (tiktok_sandbox/contract/tiktok_api.json), and record it."""
    params = dict(ctx.query) if endpoint.payload == "query" else dict(ctx.body)
    if endpoint.payload == "multipart" and ctx.upload is not None:
        params["file"] = "<file part>"  # the schema only needs to know the part is there
    violations = check_request(endpoint.path, params)
    if violations:
        state.record_contract_violations(violations)
        # A field TikTok answers with its own code (x-codes) keeps it; everything else is 40002.
        codes = (endpoint_contract(endpoint.path) or {}).get("x-codes", {})
        first = violations[0]
        raise ApiError(codes.get(first.field.split(".")[0].split("[")[0], Code.PARAMETER_ERROR), first.message())


async def _run(state: SandboxState, request: Request, endpoint: Endpoint, request_id: str) -> dict[str, Any]:
    """Authenticate, decode and handle one call; always returns an envelope."""
    try:
        # State calls run in worker threads: a long REPLACE holding the lock must not freeze
        # the event loop (and with it every other request, latency faults included).
        token = await run_in_threadpool(_authenticate, state, request.headers.get("Access-Token"), endpoint)
        ctx = await _build_context(state, request, endpoint, token)
        _enforce_contract(state, endpoint, ctx)
        # Handlers may parse large files and take the state lock: keep them off the event loop.
        data = await run_in_threadpool(endpoint.handler, ctx)
    except ApiError as error:
        return envelope(error.code, error.message, request_id)
    # The answer is still sent: a wrong shape is the sandbox's bug, and the test suite fails on it.
    state.record_contract_violations(check_response(endpoint.path, data))
    return envelope(Code.OK, "OK", request_id, data)


def _fault_response(state: SandboxState, request: Request, fault: Fault, request_id: str) -> Response:
    """The response a fault replaces the real one with."""
    headers = {"X-TT-LOGID": request_id}
    if fault.http_status is not None:
        setattr(request.state, LOG_CODE_ATTRIBUTE, None)
        try:
            phrase = HTTPStatus(fault.http_status).phrase
        except ValueError:
            phrase = "Error"
        return PlainTextResponse(f"{fault.http_status} {phrase}", status_code=fault.http_status, headers=headers)
    if fault.malformed_json:
        setattr(request.state, LOG_CODE_ATTRIBUTE, None)
        truncated = json.dumps(envelope(Code.OK, "OK", request_id, {}))[:-12]
        return Response(truncated, media_type="application/json", headers=headers)
    code = fault.code if fault.code is not None else Code.SYSTEM_ERROR
    message = fault.message or default_message(code, state.config.app_id)
    return _envelope_response(request, envelope(code, message, request_id, {}))


def _envelope_response(request: Request, body: dict[str, Any]) -> JSONResponse:
    setattr(request.state, LOG_CODE_ATTRIBUTE, body["code"])
    return JSONResponse(body, headers={"X-TT-LOGID": body["request_id"]})


def _make_route(state: SandboxState, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        request_id = new_request_id()
        fault = await run_in_threadpool(state.take_fault, endpoint.path)
        if fault is not None and not fault.after_processing:
            await asyncio.sleep(fault.latency_seconds)
            if fault.changes_response:
                await request.body()  # receive the upload anyway, as a real server would
                return _fault_response(state, request, fault, request_id)
        body = await _run(state, request, endpoint, request_id)
        if fault is not None and fault.after_processing:
            # The change is made; now the answer is delayed or lost, as when TikTok accepted a
            # call but the response never reached the client.
            await asyncio.sleep(fault.latency_seconds)
            if fault.changes_response:
                return _fault_response(state, request, fault, request_id)
        return _envelope_response(request, body)

    route.__name__ = "tiktok_" + endpoint.path.strip("/").replace("/", "_")
    route.__doc__ = endpoint.summary
    return route


def register_tiktok_routes(app: FastAPI, state: SandboxState) -> None:
    """Add every TikTok route, with and without the trailing slash.

    TikTok's SDK paths all end in ``/`` (tiktok/tiktok-business-api-sdk
    python_sdk/business_api_client/api/audience_api.py), while Segment calls get without it in production
    (segmentio/action-destinations packages/destination-actions/src/destinations/tiktok-audiences/constants.ts).
    """
    for endpoint in ENDPOINTS:
        route = _make_route(state, endpoint)
        with_slash = f"{API_PREFIX}/{endpoint.path}"
        for path in (with_slash, with_slash.rstrip("/")):
            app.add_api_route(
                path,
                route,
                methods=[endpoint.method],
                summary=endpoint.summary,
                tags=["TikTok Marketing API v1.3"],
                include_in_schema=path == with_slash,
            )
