"""FastAPI application of the TikTok Marketing API sandbox."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiktok_sandbox.config import SandboxConfig
from tiktok_sandbox.control import register_control_routes
from tiktok_sandbox.portal import register_portal_routes
from tiktok_sandbox.state import RequestLogEntry, SandboxState
from tiktok_sandbox.tiktok_api import LOG_CODE_ATTRIBUTE, register_tiktok_routes

CONTROL_PREFIX = "/_sandbox"


class RequestLogMiddleware:
    """Record method, path, status, envelope code and byte counts of every non-control request.

    A pure ASGI middleware, so it counts the bytes as they stream by and never buffers or stores
    a body: request bodies carry hashed personal identifiers.
    """

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        counts = {"request": 0, "response": 0, "status": 500}
        started = self.state.now()
        # Starlette keeps request.state in scope["state"]; the TikTok pipeline leaves the code there.
        request_state: dict[str, Any] = scope.setdefault("state", {})

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["request"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = message["status"]
            elif message["type"] == "http.response.body":
                counts["response"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            self.state.log_request(
                RequestLogEntry(
                    method=scope["method"],
                    path=scope["path"],
                    status=counts["status"],
                    code=request_state.get(LOG_CODE_ATTRIBUTE),
                    request_bytes=counts["request"],
                    response_bytes=counts["response"],
                    at=started,
                )
            )


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """Build the sandbox application.

    Args:
        config: behaviour of the sandbox; ``SandboxConfig()`` when omitted. ``POST
            /_sandbox/reset`` restores this configuration.

    Returns:
        A FastAPI app whose ``app.state.sandbox`` is the :class:`SandboxState`.
    """
    state = SandboxState(config)
    app = FastAPI(
        title="TikTok Marketing API sandbox",
        description="Local imitation of TikTok's Marketing API v1.3 audience endpoints, for tests.",
        # Both /path and /path/ are served explicitly; a redirect would hide client mistakes
        # and turn POSTs into something TikTok never answers with.
        redirect_slashes=False,
        docs_url=f"{CONTROL_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{CONTROL_PREFIX}/openapi.json",
    )
    app.state.sandbox = state
    register_tiktok_routes(app, state)
    register_portal_routes(app, state)
    register_control_routes(app, state)
    app.add_middleware(RequestLogMiddleware, state=state)
    return app
