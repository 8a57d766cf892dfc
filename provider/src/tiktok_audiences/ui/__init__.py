"""The TikTok Audiences page: a FastAPI app mounted in Airflow's API server by an Airflow plugin.

The plugin class is :class:`tiktok_audiences.ui.airflow_plugin.TikTokAudiencesPlugin`,
registered by the provider's ``airflow.plugins`` entry point. Everything lives in the provider
package, not in ``plugins/``, because Airflow imports every file of ``plugins/`` as a top-level
module named after its stem.

The modules, entry first: :mod:`.airflow_plugin` (the ``AirflowPlugin``), :mod:`.app` (builds the
FastAPI app), :mod:`.routes` (every route and the rights it needs, checked by :mod:`.security`),
:mod:`.rendering` (Jinja2 templates, security headers), :mod:`.views` and :mod:`.chart` (what a page
shows), :mod:`.actions` (what its buttons do).

May import the rooms below it: metadata, :mod:`tiktok_audiences.reporting` (the audience rows it
shares with the CLI), :mod:`tiktok_audiences.integration`, sync.status, and, inside an action, the
hook, tiktok and members rooms. Never :mod:`tiktok_audiences.cli`. This module itself imports
nothing, so its constants (and the package, on the way to the entry point's module) load neither
FastAPI nor Airflow.
"""

from __future__ import annotations

#: The plugin's name in Airflow (``airflow plugins``); Airflow keeps one plugin per name.
PLUGIN_NAME = "tiktok_audiences"
#: Where the plugin mounts the app in the API server.
URL_PREFIX = "/tiktok-audiences"
#: The page inside Airflow's UI: ``/plugin/<URL_ROUTE>`` renders the app in an iframe.
URL_ROUTE = "tiktok-audiences"
