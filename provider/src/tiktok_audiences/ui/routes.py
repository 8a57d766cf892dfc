"""Routes of the TikTok Audiences page. Every route declares Airflow's auth dependencies itself:
a plugin app is mounted without any (see ``security.py`` for which right each action needs)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlencode

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import (
    GetUserDep,
    requires_access_connection,
    requires_access_dag,
    requires_authenticated,
)
from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tiktok_audiences import integration as lifecycle
from tiktok_audiences import reporting
from tiktok_audiences.metadata import AudienceStore
from tiktok_audiences.ui import actions, views
from tiktok_audiences.ui.rendering import render
from tiktok_audiences.ui.security import (
    may_change_connections,
    may_delete_dag,
    may_read_dag,
    may_run_dags,
    require_connection_access,
    require_same_origin,
)

log = logging.getLogger(__name__)
router = APIRouter()

#: Fixed texts of the notices shown after an action; only the subject comes from the query string.
NOTICES = {
    "sync": "A sync of {subject} was triggered.",
    "full_resync": "A full resync of {subject} was triggered (the whole audience is sent with REPLACE).",
    "audience_deleted": "{subject} was deleted from this page's records.",
    "integration_saved": "Integration {subject} is set up; its audiences sync with the new token from their next run.",
    "integration_deleted": (
        "Integration {subject} was deleted. Its audiences stop updating: their runs fail at once "
        "because the integration does not exist. Nothing was deleted on TikTok."
    ),
}


def get_store() -> Iterator[AudienceStore]:
    from tiktok_audiences.metadata import open_store

    store = open_store()
    try:
        yield store
    finally:
        store.engine.dispose()


StoreDep = Annotated[AudienceStore, Depends(get_store)]


def _audience_by_dag(store: AudienceStore, dag_id: str) -> dict:
    for raw in store.list_audiences():
        if raw["dag_id"] == dag_id:
            return raw
    raise HTTPException(status.HTTP_404_NOT_FOUND, "No audience has this DAG.")


def _back(request: Request, notice: str, subject: str) -> RedirectResponse:
    """Post/redirect/get back to the page, which shows the notice's fixed text."""
    query = urlencode({"notice": notice, "subject": subject})
    target = request.scope.get("root_path", "").rstrip("/") + "/?" + query
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _refused(request: Request, message: str, title: str = "Not done") -> Response:
    # Errors are rendered here, never carried in a URL: a link cannot make the page say anything.
    return render(request, "message.html", status_code=status.HTTP_400_BAD_REQUEST, title=title, message=message)


# -- the page ---------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(requires_authenticated())])
def audiences_page(
    request: Request, user: GetUserDep, store: StoreDep, q: str = "", status_filter: str = "",
    notice: str = "", subject: str = "",
) -> Response:
    from tiktok_audiences.metadata import utcnow

    now = utcnow()
    readable = [raw for raw in store.list_audiences() if may_read_dag(user, raw["dag_id"])]
    all_rows = [reporting.audience_row(raw, now) for raw in readable]
    rows = [r for r in all_rows if views.matches(r, q.strip(), status_filter)]
    names = sorted({r.integration for r in all_rows} | set(lifecycle.database_integrations()))
    integrations = [lifecycle.describe_integration(name) for name in names]
    message = NOTICES[notice].format(subject=subject) if notice in NOTICES else None
    return render(
        request,
        "audiences.html",
        rows=rows,
        lookalikes=reporting.lookalikes_by_audience(store, readable, now),
        total=len(all_rows),
        q=q,
        status_filter=status_filter,
        statuses=views.STATUSES,
        failed=views.failed_integrations(all_rows),
        integrations=integrations,
        audiences_per_integration={i.conn_id: sum(r.integration == i.conn_id for r in all_rows) for i in integrations},
        can_manage_integrations=may_change_connections(user),
        runnable={r.dag_id for r in rows if may_run_dags(user, r.dag_id)},
        deletable={r.dag_id for r in rows if may_delete_dag(user, r.dag_id)},
        notice=message,
        default_app_id=lifecycle.default_app_id() or "",
    )


@router.get("/audiences/{dag_id}", response_class=HTMLResponse, dependencies=[Depends(requires_access_dag("GET"))])
def audience_detail(request: Request, dag_id: str, store: StoreDep) -> Response:
    from tiktok_audiences.ui.chart import history_chart

    detail = views.audience_detail(store, _audience_by_dag(store, dag_id))
    return render(request, "detail.html", d=detail, chart=history_chart(detail.points),
                  file=views.repo_relative(detail.row.file))


# -- audience actions -------------------------------------------------------------------------------


@router.post(
    "/audiences/{dag_id}/sync",
    dependencies=[
        Depends(require_same_origin),
        Depends(requires_access_dag("POST", access_entity=DagAccessEntity.RUN)),
    ],
)
def trigger_sync(
    request: Request, dag_id: str, user: GetUserDep, store: StoreDep, full_resync: Annotated[bool, Form()] = False
) -> Response:
    raw = _audience_by_dag(store, dag_id)
    try:
        actions.trigger_sync(dag_id, full_resync=full_resync, username=user.get_name())
    except actions.ActionError as err:
        return _refused(request, str(err))
    return _back(request, "full_resync" if full_resync else "sync", raw["name"])


@router.get(
    "/audiences/{dag_id}/delete", response_class=HTMLResponse, dependencies=[Depends(requires_access_dag("DELETE"))]
)
def confirm_delete_audience(request: Request, dag_id: str, store: StoreDep) -> Response:
    raw = _audience_by_dag(store, dag_id)
    row = reporting.audience_row(raw, raw["updated_at"])
    lookalike = store.get_lookalike(raw["audience_key"]) or {}
    return render(request, "delete_audience.html", row=row, file=views.repo_relative(row.file),
                  tiktok_audience_id=raw.get("tiktok_audience_id"),
                  lookalike_id=lookalike.get("tiktok_audience_id"))


@router.post(
    "/audiences/{dag_id}/delete",
    dependencies=[Depends(require_same_origin), Depends(requires_access_dag("DELETE"))],
)
def delete_audience(
    request: Request, dag_id: str, store: StoreDep, on_tiktok: Annotated[str, Form()] = "keep"
) -> Response:
    raw = _audience_by_dag(store, dag_id)
    if on_tiktok not in ("keep", "delete"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "on_tiktok must be keep or delete")
    try:
        actions.delete_audience(store, raw, delete_on_tiktok=on_tiktok == "delete")
    except actions.ActionError as err:
        return _refused(request, str(err))
    return _back(request, "audience_deleted", raw["name"])


# -- integration lifecycle --------------------------------------------------------------------------


def _callback_url(request: Request) -> str:
    return str(request.url_for("integration_callback"))


def _start(request: Request, store: AudienceStore, user, conn_id: str, app_id: str, advertiser_id: str | None,
           api_url: str | None) -> Response:
    try:
        _state, url = lifecycle.start_setup(
            store, username=user.get_name(), conn_id=conn_id, app_id=app_id, advertiser_id=advertiser_id,
            redirect_uri=_callback_url(request), api_url=api_url,
        )
    except lifecycle.IntegrationSetupError as err:
        return _refused(request, str(err))
    # 303: the browser follows with a GET to TikTok's consent page.
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/integrations/setup", dependencies=[Depends(require_same_origin)])
def setup_integration(
    request: Request,
    user: GetUserDep,
    store: StoreDep,
    conn_id: Annotated[str, Form()],
    app_id: Annotated[str, Form()],
    advertiser_id: Annotated[str, Form()] = "",
) -> Response:
    conn_id = conn_id.strip()
    # Setting up an existing integration again changes it (PUT); a new one creates it (POST).
    exists = lifecycle.describe_integration(conn_id).exists if conn_id else False
    require_connection_access(user, "PUT" if exists else "POST", conn_id)
    return _start(request, store, user, conn_id, app_id.strip(), advertiser_id.strip() or None, None)


@router.post(
    "/integrations/{connection_id}/resync",
    dependencies=[Depends(require_same_origin), Depends(requires_access_connection("PUT"))],
)
def resync_integration(request: Request, connection_id: str, user: GetUserDep, store: StoreDep) -> Response:
    info = lifecycle.describe_integration(connection_id)
    if not info.exists or not info.app_id:
        return _refused(request, f"Integration {connection_id} has no app id to resync with; set it up instead.")
    # Same flow as a set-up, for the same ad account: only the token is replaced.
    return _start(request, store, user, connection_id, info.app_id, info.advertiser_id, info.api_url)


@router.get("/integrations/callback", name="integration_callback", dependencies=[Depends(requires_authenticated())])
def integration_callback(
    request: Request, user: GetUserDep, store: StoreDep, state: str = "", auth_code: str = "", code: str = ""
) -> Response:
    try:
        pending = lifecycle.consume_state(store, state, username=user.get_name())
        # The right may have been withdrawn since the set-up started: check it again.
        exists = lifecycle.describe_integration(pending.conn_id).exists
        require_connection_access(user, "PUT" if exists else "POST", pending.conn_id)
        lifecycle.complete_setup(pending, auth_code or code)
    except lifecycle.IntegrationSetupError as err:
        log.warning("Integration set-up refused for user %s: %s", user.get_name(), err)
        return _refused(request, str(err), title="Integration not set up")
    return _back(request, "integration_saved", pending.conn_id)


@router.get(
    "/integrations/{connection_id}/delete",
    response_class=HTMLResponse,
    dependencies=[Depends(requires_access_connection("DELETE"))],
)
def confirm_delete_integration(request: Request, connection_id: str, store: StoreDep) -> Response:
    audiences = [r["name"] for r in store.list_audiences() if r["integration"] == connection_id]
    return render(request, "delete_integration.html", conn_id=connection_id, audiences=audiences,
                  info=lifecycle.describe_integration(connection_id))


@router.post(
    "/integrations/{connection_id}/delete",
    dependencies=[Depends(require_same_origin), Depends(requires_access_connection("DELETE"))],
)
def delete_integration(request: Request, connection_id: str, confirm: Annotated[str, Form()] = "") -> Response:
    if confirm != connection_id:
        return _refused(request, f"Type the integration id '{connection_id}' to confirm its deletion.")
    try:
        deleted = lifecycle.delete_connection(connection_id)
    except lifecycle.IntegrationSetupError as err:
        return _refused(request, str(err))
    if not deleted:
        return _refused(request, f"Integration {connection_id} was not found in Airflow's connections.")
    return _back(request, "integration_deleted", connection_id)
