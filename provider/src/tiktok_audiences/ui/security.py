"""Who may see and do what on the page: Airflow's own auth manager decides, as for Airflow's API.

Plugin apps are mounted without any of the core API's dependencies, so every route here declares
its own (see ``routes.py``):

* reading the page needs an authenticated Airflow user; each audience is listed only when the user
  may read its DAG;
* trigger sync / full resync need what ``POST /api/v2/dags/{dag_id}/dagRuns`` needs (DAG run
  create); deleting an audience needs what deleting its DAG needs (DAG delete);
* setting up, resyncing and deleting an integration need what creating, editing and deleting its
  connection need, because that is what they change.

Browsers send Airflow's ``_token`` cookie with any form post, also one made from another site, so
every state-changing POST also has to come from this origin (:func:`require_same_origin`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, status

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request: Request) -> set[str]:
    from airflow.configuration import conf

    origins = {_origin(str(request.base_url))}
    base_url = conf.get("api", "base_url", fallback=None)
    if base_url:
        origins.add(_origin(base_url))
    return {o for o in origins if o}


def require_same_origin(request: Request) -> None:
    """CSRF check for cookie-authenticated POSTs: Origin (or Referer) must be this server.

    Requests with an ``Authorization`` header are API clients; a browser cannot add that header to
    a cross-site form post, so they need no check.
    """
    if request.headers.get("authorization"):
        return
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        origin = _origin(request.headers.get("referer") or "")
    if not origin or origin.lower() not in allowed_origins(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site request refused (Origin does not match).")


def may_read_dag(user: BaseUser, dag_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user)


def require_connection_access(user: BaseUser, method: str, conn_id: str | None) -> None:
    """Same rule as Airflow's connection endpoints, for a connection id that is not in the path."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    if not get_auth_manager().is_authorized_connection(
        method=method, details=ConnectionDetails(conn_id=conn_id), user=user
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")


def may_change_connections(user: BaseUser) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().is_authorized_connection(method="PUT", user=user)


def may_delete_dag(user: BaseUser, dag_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return get_auth_manager().is_authorized_dag(method="DELETE", details=DagDetails(id=dag_id), user=user)


def may_run_dags(user: BaseUser, dag_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return get_auth_manager().is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
    )
