"""HTML rendering of the TikTok Audiences page: Jinja2 templates (autoescaped) and the page's security headers.

Routes render through :func:`render`; :mod:`tiktok_audiences.ui.app` only builds the FastAPI app.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from tiktok_audiences.ui import URL_PREFIX, URL_ROUTE

#: autoescape for every template, whatever its suffix: an audience name with HTML renders as text.
templates = Environment(
    loader=PackageLoader("tiktok_audiences.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
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
