"""Turn "cannot reach the database" into a message that names the connection and the fix."""

from __future__ import annotations

import sqlalchemy as sa


class DatabaseUnreachable(ConnectionError):
    """A database behind an Airflow connection could not be reached (Airflow retries the task, as for any
    error other than ``AirflowFailException``)."""


def reachable(engine: sa.Engine, conn_id: str, role: str) -> sa.Engine:
    """Check that ``engine`` connects; raise :class:`DatabaseUnreachable` naming ``conn_id`` if not.

    :param role: what the database is for, in the user's words ("contact database", ...)
    """
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.DBAPIError as err:
        raise DatabaseUnreachable(unreachable_message(engine, conn_id, role, err)) from None
    return engine


def unreachable_message(engine: sa.Engine, conn_id: str, role: str, err: Exception) -> str:
    detail = str(getattr(err, "orig", err)).strip().splitlines()
    where = engine.url.render_as_string(hide_password=True)
    return (
        f"Cannot reach the {role} (Airflow connection '{conn_id}', {where}): "
        f"{detail[0] if detail else type(err).__name__}. Fix: check that the database is up and that the "
        f"connection's host, port, database and credentials are right; the task retries."
    )

