"""OAuth and account handlers: ``oauth2/access_token/``, ``oauth2/advertiser/get/``,
``oauth2/revoke_token/``, ``user/info/`` and ``advertiser/info/``."""

from __future__ import annotations

from typing import Any

from tiktok_sandbox.errors import ApiError, Code
from tiktok_sandbox.tiktok_api.context import CallContext, authorize_advertiser, check_app_credentials
from tiktok_sandbox.validation import check_id, check_list, json_query_list, optional_bool, require_string


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
