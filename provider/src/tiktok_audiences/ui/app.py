"""The FastAPI app behind the TikTok Audiences page, and its HTML rendering (Jinja2, autoescaped)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

#: autoescape for every template, whatever its suffix: an audience name with HTML renders as text.
templates = Environment(
    loader=PackageLoader("tiktok_audiences.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    from tiktok_audiences.ui import URL_PREFIX, URL_ROUTE

    # The Airflow UI lives where the API server's root is: our mount prefix stripped off.
    airflow_root = root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else ""
    html = templates.get_template(template).render(
        base=root + "/", airflow_root=airflow_root + "/", ui_page=f"{airflow_root}/plugin/{URL_ROUTE}", **context
    )
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)


# Framed only by Airflow's own UI (same origin); no caching of pages that show account data.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'self'; default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self' https: http:",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app() -> FastAPI:
    from tiktok_audiences.ui.routes import router

    app = FastAPI(title="TikTok Audiences", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router)
    return app
