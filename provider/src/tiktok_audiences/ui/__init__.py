"""The TikTok Audiences page: a FastAPI app mounted in Airflow's API server by an Airflow plugin.

The plugin class is :class:`tiktok_audiences.ui.airflow_plugin.TikTokAudiencesPlugin`,
registered by the provider's ``airflow.plugins`` entry point. Everything lives in the provider
package, not in ``plugins/``, because Airflow imports every file of ``plugins/`` as a top-level
module named after its stem.
"""

from __future__ import annotations

#: The plugin's name in Airflow (``airflow plugins``); Airflow keeps one plugin per name.
PLUGIN_NAME = "tiktok_audiences"
#: Where the plugin mounts the app in the API server.
URL_PREFIX = "/tiktok-audiences"
#: The page inside Airflow's UI: ``/plugin/<URL_ROUTE>`` renders the app in an iframe.
URL_ROUTE = "tiktok-audiences"
