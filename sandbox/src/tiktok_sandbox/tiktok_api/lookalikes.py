"""Lookalike handlers: ``dmp/custom_audience/lookalike/create/`` and ``lookalike/update/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiktok_sandbox.config import SCOPE_WRITE_AUDIENCES
from tiktok_sandbox.errors import parameter_error
from tiktok_sandbox.tiktok_api.context import CallContext, advertiser_param
from tiktok_sandbox.validation import require_enum, require_id, require_id_list, require_list, require_string

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
