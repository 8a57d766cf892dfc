"""The package's defaults when nothing is configured: its files under Airflow's home folder, the
metadata database's connection id.

The lowest room of the package: it imports nothing of the package and no Airflow (Airflow's own
default for ``AIRFLOW_HOME`` is ``~/airflow``, https://airflow.apache.org/docs/apache-airflow/stable/howto/set-config.html).
"""

from __future__ import annotations

import os

STAGING_ENV = "TIKTOK_AUDIENCES_STAGING_URL"
#: Airflow connection of the metadata database (without one: SQLite under ``AIRFLOW_HOME``)
META_CONN_ID = "tiktok_audiences_meta"


def airflow_home() -> str:
    """``$AIRFLOW_HOME``, or Airflow's default ``~/airflow``, as an absolute path."""
    return os.path.abspath(os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"))


def home_url(*parts: str) -> str:
    """A ``file://`` URL of a folder under :func:`airflow_home` (an ObjectStoragePath base)."""
    return "file://" + os.path.join(airflow_home(), *parts)


def staging_base_url() -> str:
    """Where runs stage their hashed member files: ``$TIKTOK_AUDIENCES_STAGING_URL``, or a folder under
    ``AIRFLOW_HOME``. Here, not in the members room, because the DAG factory needs it at parse time,
    when nothing heavier than the audience files may be imported."""
    return os.environ.get(STAGING_ENV) or home_url("tiktok_audiences", "staging")
