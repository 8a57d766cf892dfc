"""Engines of the metadata database (and of the contact database), and :func:`open_store`.

The one module of ``metadata/`` that knows Airflow: an engine is built from an Airflow connection
here, with Airflow imported inside the functions that need it, so the rest of the package (and
code that builds its engine itself: tests, the CLI's ``--meta-url``, the benchmark) never loads it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tiktok_audiences.home import META_CONN_ID, airflow_home

if TYPE_CHECKING:
    from tiktok_audiences.metadata.store import AudienceStore



def open_store(conn_id: str = META_CONN_ID) -> AudienceStore:
    """The metadata store behind ``conn_id``, checked reachable and migrated: what a task opens first.

    :raises tiktok_audiences.db.reachability.DatabaseUnreachable: naming the connection and the fix (Airflow
        retries the task)
    """
    from tiktok_audiences.db.reachability import reachable
    from tiktok_audiences.metadata.store import AudienceStore

    store = AudienceStore(reachable(meta_engine(conn_id), conn_id, "metadata database"))
    store.migrate()
    return store


def meta_engine(conn_id: str = META_CONN_ID) -> Engine:
    """Engine of the metadata database, from its Airflow connection or the SQLite default."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return sqlite_engine(default_meta_path())
    return sql_engine_from_connection(connection)


def sql_engine_from_connection(connection: Any) -> Engine:
    """SQLAlchemy engine through the connection's own Airflow SQL hook (any SQL provider works)."""
    hook = connection.get_hook()
    engine = hook.get_sqlalchemy_engine()
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def default_meta_path() -> str:
    return os.path.join(airflow_home(), "tiktok_audiences_meta.db")


def sqlite_engine(path: str) -> Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    # Several task processes write the metadata file; WAL plus a busy timeout turns "database is
    # locked" into a short wait.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every sqlite test
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()
