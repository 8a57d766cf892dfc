"""A real ``airflow api-server`` over the demo data, for the browser tests."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ADMIN_PASSWORD = "e2e-" + secrets.token_urlsafe(12)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment() -> dict[str, str]:
    """The machine's environment without the test session's Airflow and audience settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TIKTOK_"))}


def build_demo(home: Path) -> None:
    """``tiktok-audiences demo``: the demo contacts, five audience DAGs run twice, the metadata table."""
    result = subprocess.run(
        [sys.executable, "-m", "tiktok_audiences.cli", "demo", "--home", str(home)],
        cwd=PROJECT_DIR, env=clean_environment(), capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"demo failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


@dataclass
class ApiServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def token(self) -> str:
        response = requests.post(f"{self.url}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD},
                                 timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]


def start_api_server(demo_home: Path, sandbox_url: str, app_id: str, app_secret: str) -> ApiServer:
    airflow_home = demo_home / "airflow"
    passwords = airflow_home / "passwords.json"
    passwords.write_text(json.dumps({"admin": ADMIN_PASSWORD}))
    port = free_port()
    env = clean_environment() | {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__API__WORKERS": "1",
        "TIKTOK_AUDIENCES_DIR": str(PROJECT_DIR / "include" / "audiences"),
        "AIRFLOW_CONN_CONTACTS_DB": json.dumps({"conn_type": "sqlite", "host": str(demo_home / "contacts.db")}),
        "AIRFLOW_CONN_TIKTOK_AUDIENCES_META": json.dumps(
            {"conn_type": "sqlite", "host": str(demo_home / "tiktok_audiences_meta.db")}
        ),
        # The integration lifecycle talks to the sandbox instead of TikTok.
        "TIKTOK_AUDIENCES_AUTH_URL": f"{sandbox_url}/portal/auth",
        "TIKTOK_AUDIENCES_API_URL": sandbox_url,
        "AIRFLOW_VAR_TIKTOK_APP_ID": app_id,
        "AIRFLOW_VAR_TIKTOK_APP_SECRET": app_secret,
    }
    log_path = demo_home / "api-server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--host", "127.0.0.1"],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = ApiServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"api-server exited:\n{log_path.read_text()[-4000:]}")
        try:
            if requests.get(f"{server.url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"api-server did not start in 90 s:\n{log_path.read_text()[-4000:]}")
