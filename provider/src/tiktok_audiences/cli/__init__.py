"""``tiktok-audiences``: validate audience files, build the demo, print the audiences table.

Airflow is imported only inside the commands that need it, after the environment is set, so that
``validate`` stays instant and ``demo`` can point Airflow at the project's own folders.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path.cwd()
#: Share of the demo's people who are TikTok users: a demo setting, not a TikTok figure.
DEMO_MATCH_RATE = 0.6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tiktok-audiences", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check the audience definition files")
    validate.add_argument("--dir", default=None,
                          help="audiences folder (default: $TIKTOK_AUDIENCES_DIR or include/audiences)")

    demo_db = commands.add_parser("demo-db", help="build the demo contact database (reference schema)")
    demo_db.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. sqlite:////tmp/contacts.db")
    demo_db.add_argument("--contacts", type=int, default=60_000)
    demo_db.add_argument("--seed", type=int, default=7)

    table = commands.add_parser("table", help="print the audiences table (Name, Match, Size, Status, Last Sync)")
    table.add_argument("--meta-url", default=None, help="SQLAlchemy URL of the metadata database "
                       "(default: the tiktok_audiences_meta connection)")
    table.add_argument("--json", action="store_true", help="print JSON instead of a table")

    settings = commands.add_parser("load-settings", help="load airflow_settings.yaml into a plain Airflow")
    settings.add_argument("file", nargs="?", default="airflow_settings.yaml")

    demo = commands.add_parser("demo", help="run every demo audience against SQLite and the local sandbox")
    demo.add_argument("--contacts", type=int, default=60_000)
    demo.add_argument("--port", type=int, default=0, help="sandbox port (default: any free port)")
    demo.add_argument("--home", default=".demo", help="folder for the demo's databases and AIRFLOW_HOME")
    demo.add_argument("--match-rate", type=float, default=DEMO_MATCH_RATE,
                      help="share of the demo's people who are TikTok users (default: %(default)s)")

    _add_integration_commands(commands)

    args = parser.parse_args(argv)
    if args.command == "integration":
        return _integration(args)
    handler = {
        "validate": _validate,
        "demo-db": _demo_db,
        "table": _table,
        "load-settings": _load_settings,
        "demo": _demo,
    }[args.command]
    return handler(args)


# -- validate -----------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    from tiktok_audiences.definitions.files import audiences_dir, load_audiences

    directory = Path(args.dir) if args.dir else audiences_dir(PROJECT_DIR / "include" / "audiences")
    definitions, problems = load_audiences(directory)
    for definition in definitions:
        print(f"ok    {Path(definition.path).name}: '{definition.name}' -> DAG {definition.dag_id}")
    for problem in problems:
        print(f"error {problem}", file=sys.stderr)
    print(f"{len(definitions)} valid, {len({p.path for p in problems})} invalid audience file(s) in {directory}")
    return 1 if problems else 0


# -- demo-db ------------------------------------------------------------------------------------


#: What ``demo`` and ``demo-db`` need beyond the runtime provider, and where it lives in the repository.
SANDBOX_MISSING = (
    "The demo needs the TikTok sandbox distribution (tiktok-audience-sync-sandbox: the fake TikTok "
    "API and the demo data builder), which is not installed. Fix: pip install ./sandbox "
    "(from the repository root; `make demo` installs it)."
)


def _require_sandbox() -> None:
    """Stop with :data:`SANDBOX_MISSING` unless the sandbox distribution is importable.

    The runtime provider does not depend on the sandbox, so the demo commands import it only when
    they run, after this check, and a missing sandbox reads as the fix instead of a traceback.
    """
    import importlib.util

    if importlib.util.find_spec("tiktok_sandbox") is None:
        raise SystemExit(SANDBOX_MISSING)


def _demo_db(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    _require_sandbox()
    from tiktok_sandbox.demo_data import build_demo_database

    started = time.perf_counter()
    summary = build_demo_database(sa.create_engine(args.url), contacts=args.contacts, seed=args.seed)
    print(f"Built {summary.contacts:,} contacts and {len(summary.segments)} segments "
          f"in {time.perf_counter() - started:.1f} s")
    return 0


# -- table --------------------------------------------------------------------------------------


def audience_rows(store) -> list[dict[str, Any]]:
    """The audiences table as users see it on the audiences page (the rows of
    :mod:`tiktok_audiences.reporting`), as JSON: what ``table --json`` prints and :func:`format_table` reads."""
    from tiktok_audiences import reporting
    from tiktok_audiences.metadata import utcnow

    now = utcnow()
    # Without the audience's definition: a lookalike's message is the one stored, as TikTok or the run left it.
    lookalikes = {raw["audience_key"]: reporting.lookalike_row(raw, now) for raw in store.list_lookalikes()}
    return [
        _record(reporting.audience_row(raw, now), lookalikes.get(raw["audience_key"]))
        for raw in store.list_audiences()
    ]


def _record(row, lookalike) -> dict[str, Any]:
    return {
        "name": row.name,
        "match": row.match,
        "size": row.size,
        "status": row.status,
        "last_sync": _timestamp(row.last_sync_at),
        "message": row.message,
        # The audience's lookalike (its size is TikTok's reach, its time when TikTok last built it).
        "lookalike": None if lookalike is None else {
            "name": lookalike.name,
            "tiktok_audience_id": lookalike.tiktok_audience_id,
            "size": lookalike.size,
            "status": lookalike.status,
            "built": _timestamp(lookalike.built_at),
            "message": lookalike.message,
        },
    }


def _timestamp(when: datetime | None) -> str | None:
    """A metadata time (naive UTC) as ISO 8601 with ``Z``."""
    return when.isoformat() + "Z" if when else None


def format_table(rows: list[dict[str, Any]], now: datetime | None = None) -> str:
    from tiktok_audiences.metadata import utcnow
    from tiktok_audiences.reporting import elapsed

    now = now or utcnow()
    header = ("Name", "Match", "Size", "Status", "Last Sync")
    lines = []
    for r in rows:
        lines.append((
            r["name"],
            "-" if r["match"] is None else f"{r['match']:.1f}%",
            "-" if r["size"] is None else f"{r['size']:,}",
            r["status"],
            elapsed(datetime.fromisoformat(r["last_sync"].rstrip("Z")), now) if r["last_sync"] else "never",
        ))
        if r.get("lookalike"):
            lookalike = r["lookalike"]
            lines.append((
                f"  lookalike: {lookalike['name']}",
                "-",
                "-" if lookalike["size"] is None else f"{lookalike['size']:,}",
                lookalike["status"],
                elapsed(datetime.fromisoformat(lookalike["built"].rstrip("Z")), now) if lookalike["built"] else "never",
            ))
    widths = [max(len(str(v)) for v in column) for column in zip(header, *lines, strict=False)]
    out = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines]
    notes = [f"  {r['name']}: {r['message']}" for r in rows if r["message"]]
    notes += [f"  {r['lookalike']['name']}: {r['lookalike']['message']}" for r in rows
              if r.get("lookalike") and r["lookalike"]["message"]]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)


def _table(args: argparse.Namespace) -> int:
    from tiktok_audiences.metadata import AudienceStore, open_store

    if args.meta_url:
        import sqlalchemy as sa

        store = AudienceStore(sa.create_engine(args.meta_url))
        store.migrate()
    else:
        store = open_store()
    rows = audience_rows(store)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


# -- load-settings ------------------------------------------------------------------------------


def _load_settings(args: argparse.Namespace) -> int:
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


# -- demo ---------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    """Build the demo contact database, start the sandbox, run every audience DAG, print the table."""
    import shutil

    _require_sandbox()
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
        dags = _demo_dags()
        for round_name in ("first sync", "incremental sync"):
            for dag in dags:
                started = time.perf_counter()
                run = dag.test()
                print(f"{round_name:<17} {dag.dag_id:<50} {run.state} ({time.perf_counter() - started:.1f} s)")
            if round_name == "first sync":
                time.sleep(config.processing_seconds + 0.5)

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


def _demo_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"Import error in {path}:\n{error}", file=sys.stderr)
        raise SystemExit(1)
    return [bag.dags[dag_id] for dag_id in sorted(bag.dags) if dag_id.startswith("tiktok_audience__")]


# -- integration (headless OAuth set-up) ----------------------------------------------------------


def _add_integration_commands(commands) -> None:
    integration = commands.add_parser(
        "integration", help="set up, resync or delete a TikTok integration without the web page"
    )
    actions = integration.add_subparsers(dest="action", required=True)
    setup = actions.add_parser(
        "setup",
        help="print TikTok's consent URL, then accept the pasted auth_code (running it again resyncs)",
    )
    setup.add_argument("--conn-id", required=True, help="the integration's Airflow connection id")
    setup.add_argument("--app-id", default=None, help="TikTok app id (default: the Variable tiktok_app_id)")
    setup.add_argument("--advertiser-id", default=None, help="the ad account to hold (optional if you authorize one)")
    setup.add_argument("--redirect-uri", required=True,
                       help="the redirect URI registered for the TikTok app, e.g. "
                            "https://airflow.example.com/tiktok-audiences/integrations/callback")
    setup.add_argument("--api-url", default=None, help="API base URL (default: $TIKTOK_AUDIENCES_API_URL or TikTok)")
    setup.add_argument("--auth-code", default=None,
                       help="the auth_code (or the whole redirected address); prompted for when omitted")
    delete = actions.add_parser("delete", help="remove the integration's connection (nothing is deleted on TikTok)")
    delete.add_argument("--conn-id", required=True)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _integration(args: argparse.Namespace) -> int:
    import getpass

    from tiktok_audiences import integration as lifecycle

    try:
        if args.action == "delete":
            if not args.yes and input(f"Type '{args.conn_id}' to delete this integration: ").strip() != args.conn_id:
                print("Not deleted.", file=sys.stderr)
                return 1
            if not lifecycle.delete_connection(args.conn_id):
                print(f"Integration {args.conn_id} was not found in Airflow's connections.", file=sys.stderr)
                return 1
            print(f"Integration {args.conn_id} deleted; its audiences stop updating. Nothing was deleted on TikTok.")
            return 0
        return _integration_setup(args, lifecycle, username=f"cli:{getpass.getuser()}")
    except lifecycle.IntegrationSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _integration_setup(args: argparse.Namespace, lifecycle, *, username: str) -> int:
    from urllib.parse import parse_qs, urlsplit

    from tiktok_audiences.metadata import open_store

    store = open_store()
    existing = lifecycle.describe_integration(args.conn_id)
    app_id = args.app_id or existing.app_id or lifecycle.default_app_id()
    if not app_id:
        raise lifecycle.IntegrationSetupError("Give --app-id (or set the Variable tiktok_app_id).")
    state, url = lifecycle.start_setup(
        store, username=username, conn_id=args.conn_id, app_id=app_id,
        advertiser_id=args.advertiser_id or existing.advertiser_id, redirect_uri=args.redirect_uri,
        api_url=args.api_url or (existing.api_url if existing.exists else None),
    )
    print("Open this address in a browser, log in to TikTok (Admin or Operator on the ad account) and confirm:")
    print(f"  {url}")
    pasted = args.auth_code or input("Paste the auth_code, or the whole address TikTok sent you to: ")
    pasted = pasted.strip()
    code = pasted
    if "://" in pasted or pasted.startswith("?"):
        query = parse_qs(urlsplit(pasted).query)
        code = (query.get("auth_code") or query.get("code") or [""])[0]
        if query.get("state", [state])[0] != state:
            raise lifecycle.IntegrationSetupError("That address belongs to another authorization; start again.")
    pending = lifecycle.consume_state(store, state, username=username)
    advertiser_id = lifecycle.complete_setup(pending, code)
    print(f"Integration {args.conn_id} set up for ad account {advertiser_id}.")
    return 0

