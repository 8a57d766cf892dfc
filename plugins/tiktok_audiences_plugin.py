"""Fallback registration of the TikTok Audiences page, for a provider installed without metadata.

The page's plugin is registered by the provider's ``airflow.plugins`` entry point
(``tiktok_audiences.ui.airflow_plugin``): any Airflow where ``tiktok-audience-sync`` is
installed, an Astro image included, gets the page without this file. The file stays for one case:
``tiktok_audiences`` importable while its installed distribution's metadata lacks that entry point
(the source on ``PYTHONPATH`` over another checkout's install, or an editable install made before the
entry point existed; ``make install`` refreshes it). Then it registers the page itself.

Otherwise it defines nothing, so the page is never registered twice: Airflow 3.3 loads ``plugins/``
first, then entry points, and a second plugin with the same name is skipped and reported as a plugin
import error ("Plugin ... already registered, skipping"; ``airflow/plugins_manager.py``, ``_get_plugins``
in apache/airflow 3.3).
"""

from __future__ import annotations

from importlib.metadata import entry_points

if not entry_points(group="airflow.plugins", name="tiktok_audiences"):
    from tiktok_audiences.ui.airflow_plugin import TikTokAudiencesPlugin  # noqa: F401
