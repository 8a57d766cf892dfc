"""Where the package keeps its files when nothing is configured: under Airflow's home folder.

The lowest room of the package: it imports nothing of the package and no Airflow (Airflow's own
default for ``AIRFLOW_HOME`` is ``~/airflow``, https://airflow.apache.org/docs/apache-airflow/stable/howto/set-config.html).
"""

from __future__ import annotations

import os


def airflow_home() -> str:
    """``$AIRFLOW_HOME``, or Airflow's default ``~/airflow``, as an absolute path."""
    return os.path.abspath(os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"))


def home_url(*parts: str) -> str:
    """A ``file://`` URL of a folder under :func:`airflow_home` (an ObjectStoragePath base)."""
    return "file://" + os.path.join(airflow_home(), *parts)
