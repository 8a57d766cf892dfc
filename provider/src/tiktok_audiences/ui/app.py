"""The FastAPI app behind the TikTok Audiences page: the routes of :mod:`tiktok_audiences.ui.routes`, no API docs."""

from __future__ import annotations

from fastapi import FastAPI

from tiktok_audiences.ui.routes import router


def create_app() -> FastAPI:
    app = FastAPI(title="TikTok Audiences", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router)
    return app
