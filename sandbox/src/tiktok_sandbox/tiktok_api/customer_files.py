"""Customer file handlers: ``dmp/custom_audience/file/upload/``, ``create/``, ``update/``, ``get/``,
``list/`` and ``delete/``, and how an audience is rendered in get and list answers."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, cast

from tiktok_sandbox.config import INVALID_AUDIENCE_ID_MESSAGE, SCOPE_READ_AUDIENCES, SCOPE_WRITE_AUDIENCES
from tiktok_sandbox.errors import ApiError, Code, parameter_error
from tiktok_sandbox.identifiers import (
    CALCULATE_TYPES,
    CREATE_CALCULATE_TYPES,
    canonical_calculate_type,
    parse_customer_file,
)
from tiktok_sandbox.state import AudienceSnapshot, UpdateAction
from tiktok_sandbox.tiktok_api.context import CallContext, advertiser_param, format_time
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

_SUB_TYPES = ("NORMAL", "REACH_FREQUENCY")
_EXPIRING_WINDOW_SECONDS = 60 * 86400.0


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
