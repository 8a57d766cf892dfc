"""Audience Segment API (Partner audience) handlers: ``segment/audience/`` and ``segment/mapping/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from tiktok_sandbox.config import SCOPE_WRITE_AUDIENCES
from tiktok_sandbox.errors import ApiError, Code, parameter_error
from tiktok_sandbox.identifiers import SEGMENT_ID_TYPES, is_hex_hash
from tiktok_sandbox.state import MappingAction, MappingChange
from tiktok_sandbox.tiktok_api.context import CallContext, advertiser_param, authorize_advertiser
from tiktok_sandbox.validation import require_enum, require_id, require_id_list, require_list, require_string

_SEGMENT_NAME_LIMIT = 70


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
