"""Run an audience DAG and SIGKILL this process right after TikTok accepted a batch.

Used by test_sync.py: the kill lands between TikTok's acceptance and the confirmed-set commit,
the moment where a careless sync loses or duplicates data. Environment comes from the test.
"""

from __future__ import annotations

import os
import signal
import sys

from airflow.dag_processing.dagbag import DagBag

from tiktok_audiences.store import AudienceStore


def _die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


AudienceStore.confirm_added = _die  # TikTok has accepted the APPEND when this is called

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
bag.dags[f"tiktok_audience__{sys.argv[1]}"].test()
sys.exit("the run finished without reaching a confirmed-set commit")
