"""Run one audience DAG with dag.test() in its own process (exit 0 on success, 1 otherwise).

Used to start several runs of one audience at the same time, as a scheduled run, a manual run and
a backfill would be in production. Environment (connections, folders) comes from the test.
"""

from __future__ import annotations

import os
import sys

from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
run = bag.dags[f"tiktok_audience__{sys.argv[1]}"].test()
sys.exit(0 if run.state == "success" else 1)
