"""The page's plugin is registered once: by the provider's entry point, or else by the plugins/ fallback."""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest

from tests.fixtures import PROJECT_DIR

PLUGIN_FILE = PROJECT_DIR / "plugins" / "tiktok_audiences_plugin.py"


def test_airflow_registers_the_page_once_without_plugin_import_errors(api_app):
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    assert [p.name for p in plugins].count("tiktok_audiences") == 1
    assert not [f"{k}: {v}" for k, v in errors.items() if "tiktok" in f"{k} {v}"]
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps].count("/tiktok-audiences") == 1


def _load_plugin_file(monkeypatch, entry_points):
    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    spec = importlib.util.spec_from_file_location("tiktok_audiences_plugin_under_test", PLUGIN_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("installed", [True, False], ids=["entry point installed", "no entry point"])
def test_the_plugins_folder_file_defines_the_plugin_only_without_the_entry_point(monkeypatch, installed):
    def entry_points(**selection):
        assert selection == {"group": "airflow.plugins", "name": "tiktok_audiences"}
        return [object()] if installed else []

    module = _load_plugin_file(monkeypatch, entry_points)
    assert hasattr(module, "TikTokAudiencesPlugin") is not installed
