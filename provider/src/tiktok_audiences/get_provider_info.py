"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Registering the ``tiktok_ads`` connection type here is what gives the integration its own form in
the Airflow UI; a hook shipped under ``plugins/`` cannot do that. The keys are those of Airflow's
``provider_info.schema.json`` (as apache/airflow ``providers/http/.../get_provider_info.py`` uses them).

``plugins`` lists the page's plugin for ``airflow providers plugins``; Airflow loads it from the
``airflow.plugins`` entry point (``provider/pyproject.toml``), as Airflow's own OpenLineage provider
declares its plugin both ways. ``tests/unit/test_provider_info.py`` checks every module and class
named here exists, and that every hook and operator module is named.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "tiktok-audience-sync",
        "name": "TikTok Audience Sync",
        "description": "Keep TikTok Ads custom audiences in sync with segments of a contact database.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "TikTok Ads",
                "external-doc-url": "https://business-api.tiktok.com/portal/docs",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "TikTok Ads", "python-modules": ["tiktok_audiences.hooks.tiktok"]}
        ],
        "operators": [
            {
                "integration-name": "TikTok Ads",
                "python-modules": [
                    "tiktok_audiences.operators.extract",
                    "tiktok_audiences.operators.tiktok",
                    "tiktok_audiences.operators.lookalike",
                    "tiktok_audiences.operators.alerts",
                    "tiktok_audiences.operators.base",
                ],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "tiktok_audiences.hooks.tiktok.TikTokHook",
                "hook-name": "TikTok Ads",
                "connection-type": "tiktok_ads",
                "ui-field-behaviour": {
                    "hidden-fields": ["login", "schema", "port"],
                    "relabeling": {"host": "API base URL", "password": "Access token"},
                    "placeholders": {"host": "https://business-api.tiktok.com"},
                },
                "conn-fields": {
                    "advertiser_id": {
                        "label": "Advertiser ID",
                        "description": "The one TikTok ad account this integration syncs audiences to.",
                        "schema": {"type": ["string", "null"], "pattern": "^[0-9]*$"},
                    },
                    "app_id": {
                        "label": "App ID",
                        "description": "ID of the TikTok developer app the access token was issued to.",
                        "schema": {"type": ["string", "null"], "pattern": "^[0-9]*$"},
                    },
                    "api": {
                        "label": "Audience API",
                        "description": "How audiences are sent unless their file says otherwise: customer_file "
                        "(default; works for every app) or partner (TikTok's Audience Segment API; TikTok may have "
                        "to allowlist the app).",
                        "schema": {"type": ["string", "null"], "pattern": "^(customer_file|partner)?$"},
                    },
                },
            }
        ],
        "plugins": [
            {
                "name": "tiktok_audiences",
                "plugin-class": "tiktok_audiences.ui.airflow_plugin.TikTokAudiencesPlugin",
            }
        ],
    }
