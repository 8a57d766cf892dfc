"""The TikTok Audiences page: a FastAPI app the Airflow plugin in ``plugins/`` mounts.

The app lives in the provider package, not in ``plugins/``, because Airflow imports every file of
``plugins/`` as a top-level module named after its stem; only the one-file entry point belongs there.
"""

from __future__ import annotations

#: Where the plugin mounts the app in the API server.
URL_PREFIX = "/tiktok-audiences"
#: The page inside Airflow's UI: ``/plugin/<URL_ROUTE>`` renders the app in an iframe.
URL_ROUTE = "tiktok-audiences"
