"""A stand-in for TikTok's advertiser consent page (``/portal/auth``, bububa/tiktok-business api/oauth/url.go).

The page lets a person pick the ad accounts to authorize and the role they hold on them. As on
TikTok, only an Admin or Operator may authorize; an Analyst is refused. On success the browser is
redirected to ``redirect_uri`` with ``auth_code`` (and its alias ``code``) plus ``state``.

Everything placed in the page is HTML-escaped: ``state`` and ``redirect_uri`` come straight from
the query string and would otherwise be a reflected-XSS hole.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tiktok_sandbox.state import SandboxState

ROLES: tuple[str, ...] = ("Admin", "Operator", "Analyst")
AUTHORIZING_ROLES: frozenset[str] = frozenset({"Admin", "Operator"})
ROLE_REFUSED_MESSAGE = "Admin or Operator access is required to authorize this app."

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>TikTok for Business (sandbox) - Authorize app</title></head>
<body>
<h1>Authorize app {app_id}</h1>
<p>This sandbox page plays TikTok's consent screen. The app asks for the
<strong>Audience Management</strong> permission on the ad accounts you select.</p>
{error}
<form method="post" action="/portal/auth">
<input type="hidden" name="app_id" value="{app_id}">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<fieldset><legend>Ad accounts</legend>
{advertisers}
</fieldset>
<p><label for="role">Your role on these ad accounts</label>
<select id="role" name="role">
{roles}
</select></p>
<p>After you confirm you will be sent to <code>{redirect_uri}</code>.</p>
<button type="submit">Confirm</button>
</form>
</body>
</html>
"""


def _render(
    state: SandboxState,
    *,
    app_id: str,
    oauth_state: str,
    redirect_uri: str,
    selected: frozenset[str] = frozenset(),
    role: str = "Admin",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    config = state.config
    advertisers = "\n".join(
        '<label><input type="checkbox" name="advertiser_ids" value="{id}"{checked}> {name} ({id})</label><br>'.format(
            id=escape(advertiser_id),
            name=escape(config.advertiser_name(advertiser_id)),
            checked=" checked" if advertiser_id in selected or not selected else "",
        )
        for advertiser_id in config.advertiser_ids
    )
    roles = "\n".join(
        '<option value="{r}"{sel}>{r}</option>'.format(r=escape(r), sel=" selected" if r == role else "") for r in ROLES
    )
    page = _PAGE.format(
        app_id=escape(app_id),
        state=escape(oauth_state),
        redirect_uri=escape(redirect_uri),
        advertisers=advertisers,
        roles=roles,
        error=f'<p class="error" role="alert"><strong>{escape(error)}</strong></p>' if error else "",
    )
    return HTMLResponse(page, status_code=status_code)


def _error_page(message: str, status_code: int) -> HTMLResponse:
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head>'
        f'<body><h1>Authorization error</h1><p role="alert">{escape(message)}</p></body></html>'
    )
    return HTMLResponse(body, status_code=status_code)


def _request_problem(state: SandboxState, app_id: str, redirect_uri: str) -> str | None:
    """Why the authorization request itself is unusable, or None."""
    if app_id != state.config.app_id:
        return "Unknown app_id: this app is not registered."
    parts = urlsplit(redirect_uri)
    # Only web redirects: a javascript: or data: URI would run in the user's browser.
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "redirect_uri must be an absolute http(s) URL."
    return None


def redirect_with_code(redirect_uri: str, auth_code: str, oauth_state: str) -> str:
    """Append ``auth_code``, ``code`` and ``state`` to ``redirect_uri``, keeping its own query."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("auth_code", auth_code), ("code", auth_code), ("state", oauth_state)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def register_portal_routes(app: FastAPI, state: SandboxState) -> None:
    """Add ``GET``/``POST /portal/auth``."""

    async def show_consent(request: Request) -> Response:
        params = request.query_params
        app_id, oauth_state = params.get("app_id", ""), params.get("state", "")
        redirect_uri = params.get("redirect_uri", "")
        problem = _request_problem(state, app_id, redirect_uri)
        if problem:
            return _error_page(problem, 400)
        return _render(state, app_id=app_id, oauth_state=oauth_state, redirect_uri=redirect_uri)

    async def submit_consent(request: Request) -> Response:
        async with request.form() as form:
            app_id = str(form.get("app_id", ""))
            oauth_state = str(form.get("state", ""))
            redirect_uri = str(form.get("redirect_uri", ""))
            role = str(form.get("role", ""))
            chosen = [str(value) for value in form.getlist("advertiser_ids")]
        problem = _request_problem(state, app_id, redirect_uri)
        if problem:
            return _error_page(problem, 400)
        page = dict(app_id=app_id, oauth_state=oauth_state, redirect_uri=redirect_uri)
        known = set(state.config.advertiser_ids)
        selected = frozenset(a for a in chosen if a in known)
        if role not in ROLES:
            return _render(state, **page, selected=selected, error="Choose your role.", status_code=400)
        if role not in AUTHORIZING_ROLES:
            return _render(state, **page, selected=selected, role=role, error=ROLE_REFUSED_MESSAGE, status_code=403)
        if not chosen or len(selected) != len(set(chosen)):
            return _render(
                state,
                **page,
                selected=selected,
                role=role,
                error="Select at least one of the listed ad accounts.",
                status_code=400,
            )
        ordered = [a for a in state.config.advertiser_ids if a in selected]
        auth_code = state.issue_auth_code(ordered)
        return RedirectResponse(redirect_with_code(redirect_uri, auth_code, oauth_state), status_code=302)

    for path in ("/portal/auth", "/portal/auth/"):
        app.add_api_route(
            path,
            show_consent,
            methods=["GET"],
            include_in_schema=path == "/portal/auth",
            response_class=HTMLResponse,
            tags=["Consent page"],
            summary="Consent page",
        )
        app.add_api_route(
            path,
            submit_consent,
            methods=["POST"],
            include_in_schema=path == "/portal/auth",
            tags=["Consent page"],
            summary="Submit consent",
        )
