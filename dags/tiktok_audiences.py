"""One Airflow DAG per TikTok audience defined in include/audiences/ (see README.md).

The DAGs are rendered by tiktok_audiences.dag_factory from the YAML files alone: parsing this file
touches no database and no network.
"""

from __future__ import annotations

from pathlib import Path

from tiktok_audiences.dag_factory import build_audience_dags

_PROJECT = Path(__file__).resolve().parent.parent

for _dag in build_audience_dags(
    default_audiences_dir=_PROJECT / "include" / "audiences",
    sql_dir=_PROJECT / "include" / "sql",
):
    globals()[_dag.dag_id] = _dag
