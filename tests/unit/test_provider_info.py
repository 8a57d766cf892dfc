"""The provider's metadata (get_provider_info, pyproject) names everything it ships, and nothing else.

Pure checks on the source tree; ``tests/packaging/test_wheel.py`` checks the built wheel installed.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import tomllib
from importlib import import_module, resources
from pathlib import Path

import jsonschema

import tiktok_audiences
from tiktok_audiences.get_provider_info import get_provider_info

PROVIDER_DIR = Path(__file__).resolve().parents[2] / "provider"


def _modules(package: str) -> set[str]:
    module = import_module(package)
    return {f"{package}.{m.name}" for m in pkgutil.iter_modules(module.__path__) if not m.name.startswith("_")}


def test_provider_info_validates_against_airflows_schema():
    schema = json.loads(resources.files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_hook_and_operator_module_is_listed_and_imports():
    info = get_provider_info()
    listed = {kind: {m for entry in info[kind] for m in entry["python-modules"]} for kind in ("hooks", "operators")}
    assert listed["hooks"] == _modules("tiktok_audiences.hooks")
    assert listed["operators"] == _modules("tiktok_audiences.operators")
    for module in listed["hooks"] | listed["operators"]:
        import_module(module)


def test_connection_type_and_plugin_classes_exist():
    info = get_provider_info()
    for entry in info["connection-types"]:
        module, _, name = entry["hook-class-name"].rpartition(".")
        hook = getattr(import_module(module), name)
        assert hook.conn_type == entry["connection-type"] == "tiktok_ads"
    (plugin,) = info["plugins"]
    module, _, name = plugin["plugin-class"].rpartition(".")
    plugin_class = getattr(import_module(module), name)
    assert plugin_class.name == plugin["name"]


def test_pyproject_agrees_with_the_provider_info():
    project = tomllib.loads((PROVIDER_DIR / "pyproject.toml").read_text())["project"]
    info = get_provider_info()
    assert project["name"] == info["package-name"]
    assert info["versions"][0] == project["version"]
    (plugin,) = info["plugins"]
    module, _, name = plugin["plugin-class"].rpartition(".")
    assert project["entry-points"]["airflow.plugins"] == {plugin["name"]: f"{module}:{name}"}
    assert "tiktok-sandbox" not in project["scripts"]


def test_no_runtime_module_imports_the_sandbox():
    """Import every module of tiktok_audiences with the sandbox made unimportable (a fresh interpreter)."""
    code = (
        "import sys, pkgutil, importlib\n"
        "sys.modules['tiktok_sandbox'] = None\n"
        "import tiktok_audiences\n"
        "for m in pkgutil.walk_packages(tiktok_audiences.__path__, 'tiktok_audiences.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(len(sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(tiktok_audiences.__file__).parents[1]),
                                                          os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
