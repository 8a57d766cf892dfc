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

The handlers of step 6 live by endpoint family in the sibling modules (:mod:`.oauth`,
:mod:`.customer_files`, :mod:`.lookalikes`, :mod:`.segments`); :data:`ENDPOINTS` routes to them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from tiktok_sandbox.contract import check_request, check_response, endpoint_contract
from tiktok_sandbox.errors import ApiError, Code, default_message
from tiktok_sandbox.state import Fault, SandboxState, TokenRecord
from tiktok_sandbox.tiktok_api.context import CallContext, Handler, UploadedPart, envelope, new_request_id
from tiktok_sandbox.tiktok_api.customer_files import (
    audience_create,
    audience_delete,
    audience_get,
    audience_list,
    audience_update,
    file_upload,
)
from tiktok_sandbox.tiktok_api.lookalikes import lookalike_create, lookalike_update
from tiktok_sandbox.tiktok_api.oauth import (
    advertiser_info,
    oauth_access_token,
    oauth_advertiser_get,
    oauth_revoke_token,
    user_info,
)
from tiktok_sandbox.tiktok_api.segments import segment_audience, segment_mapping

API_PREFIX = "/open_api/v1.3"
#: Key under ``request.state`` where the envelope code is left for the request log.
LOG_CODE_ATTRIBUTE = "tiktok_code"

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
