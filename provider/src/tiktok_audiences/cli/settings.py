"""``tiktok-audiences load-settings``: load an Astro ``airflow_settings.yaml`` into a plain Airflow."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tiktok_audiences.cli.project import PROJECT_DIR


def add_command(commands) -> None:
    settings = commands.add_parser("load-settings", help="load airflow_settings.yaml into a plain Airflow")
    settings.add_argument("file", nargs="?", default="airflow_settings.yaml")
    settings.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Create the connections, pools and variables of an Astro ``airflow_settings.yaml``."""
    import yaml

    path = Path(args.file)
    os.environ.setdefault("PROJECT_DIR", str(PROJECT_DIR.resolve()))
    settings = yaml.safe_load(os.path.expandvars(path.read_text(encoding="utf-8"))) or {}
    section = settings.get("airflow") or {}

    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        for conn in section.get("connections") or []:
            extra = conn.get("conn_extra")
            existing = session.query(Connection).filter(Connection.conn_id == conn["conn_id"]).one_or_none()
            if existing is not None:
                session.delete(existing)
                session.flush()
            session.add(
                Connection(
                    conn_id=conn["conn_id"],
                    conn_type=conn.get("conn_type"),
                    host=conn.get("conn_host"),
                    schema=conn.get("conn_schema"),
                    login=conn.get("conn_login"),
                    password=conn.get("conn_password"),
                    port=conn.get("conn_port"),
                    extra=json.dumps(extra) if isinstance(extra, dict) else extra,
                )
            )
            print(f"connection {conn['conn_id']} ({conn.get('conn_type')})")
        for pool in section.get("pools") or []:
            Pool.create_or_update_pool(
                pool["pool_name"], slots=int(pool["pool_slot"]), description=pool.get("pool_description", ""),
                include_deferred=False, session=session,
            )
            print(f"pool {pool['pool_name']} ({pool['pool_slot']} slots)")
    for variable in section.get("variables") or []:
        Variable.set(variable["variable_name"], variable["variable_value"])
        print(f"variable {variable['variable_name']}")
    return 0
