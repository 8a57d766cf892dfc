"""The provider as a user installs it: its wheel, built with ``python -m build``, in a clean virtualenv.

The virtualenv is made with ``python -m venv`` (no ``--system-site-packages``, no ``.pth`` into the
test environment) and gets the wheel with its declared dependencies from the machine's package
index, constrained to the versions of the environment running the tests, so Airflow is the same
release as everywhere else in the suite. That install takes about a minute. The sandbox
distribution is not installed. In that virtualenv, with no ``PYTHONPATH`` and an empty plugins
folder, the checks run in one fresh interpreter (``_CHECKS``):

- the ``tiktok_ads`` connection type registers (ProvidersManager), with its hook and the form
  fields the API server gives the UI's connection form;
- the page's plugin registers once, from the ``airflow.plugins`` entry point, with no plugin import
  error, and its FastAPI app is mounted at ``/tiktok-audiences``;
- every module of ``tiktok_audiences`` imports (the DAG factory and the page included), and the
  repository's ``dags/`` folder parses into one DAG per audience file without import errors;
- ``tiktok_sandbox`` is not importable, and ``tiktok-audiences demo-db`` says to ``pip install ./sandbox``.

Select with ``-m packaging``; it needs the PyPA ``build`` package (requirements-dev.txt).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from importlib.metadata import distributions
from pathlib import Path

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]

_CHECKS = r'''
import importlib, importlib.util, json, pkgutil, subprocess, sys, sysconfig
from pathlib import Path

site = Path(sysconfig.get_paths()["purelib"]).resolve()
result = {"prefix": sys.prefix}

import tiktok_audiences
result["tiktok_audiences"] = tiktok_audiences.__file__
result["installed_in_venv"] = Path(tiktok_audiences.__file__).resolve().is_relative_to(site)
result["sandbox_importable"] = importlib.util.find_spec("tiktok_sandbox") is not None

from airflow.providers_manager import ProvidersManager
pm = ProvidersManager()
provider = pm.providers.get("tiktok-audience-sync")
result["provider_version"] = provider.version if provider else None
# What the API server gives the UI's connection form (GET /ui/connections/hook_meta).
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
meta = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "tiktok_ads"]
result["hook"] = [m.hook_class_name for m in meta]
result["form_fields"] = sorted(meta[0].extra_fields or {}) if meta else []
result["provider_plugins"] = [p.plugin_class for p in pm.plugins]

from airflow import plugins_manager
plugins, errors = plugins_manager._get_plugins()
ours = [p for p in plugins if p.name == "tiktok_audiences"]
result["plugins"] = [(p.name, type(p.source).__name__) for p in ours]
result["plugin_errors"] = {str(k): v for k, v in errors.items()}
apps, _ = plugins_manager.get_fastapi_plugins()
result["fastapi_prefixes"] = [a["url_prefix"] for a in apps]

failed = {}
for module in pkgutil.walk_packages(tiktok_audiences.__path__, "tiktok_audiences."):
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed[module.name] = repr(error)
result["import_failures"] = failed
result["sandbox_loaded"] = "tiktok_sandbox" in sys.modules

from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
result["dag_ids"] = sorted(bag.dag_ids)
result["dag_import_errors"] = {str(k): v for k, v in bag.import_errors.items()}

cli = subprocess.run([str(Path(sys.executable).parent / "tiktok-audiences"), "demo-db", "--url", "sqlite://"],
                     capture_output=True, text=True)
result["demo_db"] = [cli.returncode, cli.stderr.strip()[-500:]]
print("CHECKS " + json.dumps(result))
'''


def _constraints(path: Path) -> Path:
    """Pin every distribution of the running test environment, except ours and the installers."""
    skip = {"pip", "setuptools", "wheel"}
    pins = {}
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name and name not in skip and not name.startswith("tiktok-audience-sync"):
            pins[name] = f"{name}=={dist.version}"
    path.write_text("\n".join(sorted(pins.values())) + "\n")
    return path


def _build_wheel(tmp: Path) -> Path:
    pytest.importorskip("build", reason="the PyPA build frontend is in requirements-dev.txt")
    # A copy of provider/, so the build leaves no egg-info or build/ in the working tree (the
    # LICENSE symlink is copied as the file).
    source = tmp / "provider"
    shutil.copytree(REPO / "provider", source,
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "dist", "__pycache__"))
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("tiktok_audience_sync-*.whl")
    return wheel


def test_built_wheel_installs_next_to_airflow_without_the_sandbox(tmp_path):
    wheel = _build_wheel(tmp_path)
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("tiktok_sandbox")], "the wheel ships the sandbox"
    # tiktok_audiences/demo.py was the builder; cli/demo.py is the command that imports it from the sandbox.
    assert not [n for n in names if n == "tiktok_audiences/demo.py" or "demo_data" in n or "demo_contacts" in n], (
        "the wheel ships the demo builder")
    assert "tiktok_audiences/ui/templates/audiences.html" in names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(_constraints(tmp_path / "constraints.txt")), str(wheel)],
        capture_output=True, text=True, timeout=360,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    home = tmp_path / "airflow"
    (home / "plugins").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "TIKTOK_AUDIENCES"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "TIKTOK_AUDIENCES_DIR": str(REPO / "include" / "audiences"),
    })
    run = subprocess.run([str(python), "-c", _CHECKS, str(REPO / "dags")], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=240)
    lines = [line for line in run.stdout.splitlines() if line.startswith("CHECKS ")]
    assert run.returncode == 0 and lines, (run.stdout[-2000:], run.stderr[-4000:])
    found = json.loads(lines[-1].removeprefix("CHECKS "))

    assert found["installed_in_venv"], found["tiktok_audiences"]
    assert found["sandbox_importable"] is False
    assert found["provider_version"] == "0.1.0"
    assert found["hook"] == ["tiktok_audiences.hooks.tiktok.TikTokHook"]
    assert found["form_fields"] == ["advertiser_id", "api", "app_id"]
    assert found["provider_plugins"] == ["tiktok_audiences.ui.airflow_plugin.TikTokAudiencesPlugin"]
    assert found["plugins"] == [["tiktok_audiences", "EntryPointSource"]]
    assert found["plugin_errors"] == {}
    assert "/tiktok-audiences" in found["fastapi_prefixes"]
    assert found["import_failures"] == {}
    assert found["sandbox_loaded"] is False
    shipped = sorted(f"tiktok_audience__{p.stem}" for p in (REPO / "include" / "audiences").glob("*.yaml"))
    assert found["dag_ids"] == shipped and found["dag_import_errors"] == {}
    returncode, message = found["demo_db"]
    assert returncode == 1 and "pip install ./sandbox" in message
