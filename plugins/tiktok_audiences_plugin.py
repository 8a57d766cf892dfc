"""Airflow plugin entry point: the TikTok Audiences page in Airflow's navigation.

Only this file lives in ``plugins/`` (Airflow imports each file there as a top-level module named
after its stem); the app itself is ``tiktok_audiences.plugin`` in the provider package.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tiktok_audiences.plugin import URL_PREFIX, URL_ROUTE
from tiktok_audiences.plugin.app import create_app


class TikTokAudiencesPlugin(AirflowPlugin):
    name = "tiktok_audiences"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "TikTok Audiences"}]
    external_views = [
        {
            "name": "TikTok Audiences",
            # Relative, so the page also works when Airflow is served under a base path.
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": URL_ROUTE,
            "destination": "nav",
            "category": "browse",
        }
    ]
