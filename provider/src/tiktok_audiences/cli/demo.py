"""``tiktok-audiences demo`` and ``demo-db``: the demo contact database, and every demo audience run
against it and the local TikTok sandbox.

The sandbox (``tiktok_sandbox``, its own distribution under ``sandbox/``) is imported only inside
these commands, after :func:`require_sandbox`: the runtime provider does not depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tiktok_audiences.cli.project import PROJECT_DIR

#: Share of the demo's people who are TikTok users: a demo setting, not a TikTok figure.
DEMO_MATCH_RATE = 0.6


def add_demo_db_command(commands) -> None:
    demo_db = commands.add_parser("demo-db", help="build the demo contact database (reference schema)")
    demo_db.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. sqlite:////tmp/contacts.db")
    demo_db.add_argument("--contacts", type=int, default=60_000)
    demo_db.add_argument("--seed", type=int, default=7)
    demo_db.set_defaults(run=run_demo_db)


def add_demo_command(commands) -> None:
    demo = commands.add_parser("demo", help="run every demo audience against SQLite and the local sandbox")
    demo.add_argument("--contacts", type=int, default=60_000)
    demo.add_argument("--port", type=int, default=0, help="sandbox port (default: any free port)")
    demo.add_argument("--home", default=".demo", help="folder for the demo's databases and AIRFLOW_HOME")
    demo.add_argument("--match-rate", type=float, default=DEMO_MATCH_RATE,
                      help="share of the demo's people who are TikTok users (default: %(default)s)")
    demo.set_defaults(run=run_demo)


#: What ``demo`` and ``demo-db`` need beyond the runtime provider, and where it lives in the repository.
SANDBOX_MISSING = (
    "The demo needs the TikTok sandbox distribution (tiktok-audience-sync-sandbox: the fake TikTok "
    "API and the demo data builder), which is not installed. Fix: pip install ./sandbox "
    "(from the repository root; `make demo` installs it)."
)


def require_sandbox() -> None:
    """Stop with :data:`SANDBOX_MISSING` unless the sandbox distribution is importable.

    The runtime provider does not depend on the sandbox, so the demo commands import it only when
    they run, after this check, and a missing sandbox reads as the fix instead of a traceback.
    """
    import importlib.util

    if importlib.util.find_spec("tiktok_sandbox") is None:
        raise SystemExit(SANDBOX_MISSING)


def run_demo_db(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    require_sandbox()
    from tiktok_sandbox.demo_data import build_demo_database

    started = time.perf_counter()
    summary = build_demo_database(sa.create_engine(args.url), contacts=args.contacts, seed=args.seed)
    elapsed = time.perf_counter() - started
    print(f"Built {summary.contacts:,} contacts and {len(summary.segments)} segments in {elapsed:.1f} s")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """Build the demo contact database, start the sandbox, run every audience DAG, print the table."""
    import shutil

    require_sandbox()
    from tiktok_sandbox.config import SandboxConfig
    from tiktok_sandbox.demo_data import build_demo_database, population_hashes, register_population
    from tiktok_sandbox.server import SandboxServer

    home = (PROJECT_DIR / args.home).resolve()
    shutil.rmtree(home, ignore_errors=True)  # the demo always starts from scratch
    airflow_home = home / "airflow"
    airflow_home.mkdir(parents=True)
    contacts_path = home / "contacts.db"
    meta_path = home / "tiktok_audiences_meta.db"

    # Processing takes 2 s in the demo (24-48 h on TikTok): the first pass leaves audiences
    # Initiating, the second pass (an incremental sync with nothing to change) finds them Active.
    # Each demo contact is one person; match_rate is the share of them that are TikTok users.
    config = SandboxConfig(processing_seconds=2.0, match_rate=args.match_rate)
    sandbox = SandboxServer(config, port=args.port)
    url = sandbox.start()
    os.environ.update(demo_environment(PROJECT_DIR, airflow_home, contacts_path, meta_path, url, config))
    try:
        import sqlalchemy as sa

        started = time.perf_counter()
        summary = build_demo_database(sa.create_engine(f"sqlite:///{contacts_path}"), contacts=args.contacts)
        print(f"Demo contact database: {summary.contacts:,} contacts, {len(summary.segments)} segments "
              f"({time.perf_counter() - started:.1f} s) at {contacts_path}")
        # TikTok's cover_num counts users: the sandbox learns which hashes are one person (hashes
        # only, as TikTok only ever gets hashes) before any audience is sent.
        started = time.perf_counter()
        people = population_hashes(sa.create_engine(f"sqlite:///{contacts_path}"))
        users = register_population(url, people)
        print(f"TikTok users on the sandbox: {len(people):,} contacts registered as {users:,} people "
              f"(contacts sharing an email or phone are one), {args.match_rate:.0%} of them on TikTok "
              f"({time.perf_counter() - started:.1f} s)")
        print(f"TikTok sandbox: {url}")

        from airflow.utils.db import initdb

        initdb()
        dags = demo_dags()
        for round_name in ("first sync", "incremental sync"):
            for dag in dags:
                started = time.perf_counter()
                run = dag.test()
                print(f"{round_name:<17} {dag.dag_id:<50} {run.state} ({time.perf_counter() - started:.1f} s)")
            if round_name == "first sync":
                time.sleep(config.processing_seconds + 0.5)

        from tiktok_audiences.cli.table import audience_rows, format_table
        from tiktok_audiences.metadata import AudienceStore
        from tiktok_audiences.metadata.engines import sqlite_engine

        print()
        print(format_table(audience_rows(AudienceStore(sqlite_engine(str(meta_path))))))
        on_tiktok = [a for a in sandbox.state.all_audiences() if not a.deleted]
        lookalikes = [f"{a.name} ({a.audience_id})" for a in on_tiktok if a.audience_type == "Lookalike Audience"]
        print(f"\nOn the TikTok sandbox: {len(on_tiktok)} audiences"
              + (f", including lookalike {', '.join(lookalikes)}" if lookalikes else ""))
    finally:
        sandbox.stop()
    return 0


def demo_environment(project: Path, airflow_home: Path, contacts_path: Path, meta_path: Path,
                     sandbox_url: str, sandbox_config) -> dict[str, str]:
    """Environment that points Airflow at the project and the demo's connections."""
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(project / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "TIKTOK_AUDIENCES_DIR": str(project / "include" / "audiences"),
        "TIKTOK_AUDIENCES_TASK_RETRIES": "0",  # the demo shows a failure at once
        "AIRFLOW_CONN_CONTACTS_DB": json.dumps({"conn_type": "sqlite", "host": str(contacts_path)}),
        "AIRFLOW_CONN_TIKTOK_AUDIENCES_META": json.dumps({"conn_type": "sqlite", "host": str(meta_path)}),
        "AIRFLOW_CONN_TIKTOK_DEFAULT": json.dumps(
            {
                "conn_type": "tiktok_ads",
                "host": sandbox_url,
                "password": sandbox_config.access_token,
                "extra": {"advertiser_id": sandbox_config.advertiser_ids[0], "app_id": sandbox_config.app_id},
            }
        ),
    }


def demo_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"Import error in {path}:\n{error}", file=sys.stderr)
        raise SystemExit(1)
    return [bag.dags[dag_id] for dag_id in sorted(bag.dags) if dag_id.startswith("tiktok_audience__")]
