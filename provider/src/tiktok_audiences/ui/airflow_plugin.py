"""The Airflow plugin that puts the TikTok Audiences page in Airflow's navigation.

Registered by the provider's ``airflow.plugins`` entry point (``provider/pyproject.toml``), so an
installed provider brings the page with no file in ``plugins/``. Importing this module builds the
page's FastAPI app; Airflow does so when it loads plugins (API server, ``airflow plugins``).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tiktok_audiences.ui import PLUGIN_NAME, URL_PREFIX, URL_ROUTE
from tiktok_audiences.ui.app import create_app


class TikTokAudiencesPlugin(AirflowPlugin):
    name = PLUGIN_NAME
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
