"""Run an audience DAG and SIGKILL this process at a chosen step, as a dying worker would.

Modes (argv[2]):
- ``commit`` (default): right after TikTok accepted a batch, before the confirmed set records it;
- ``mid_batch``: after the first batch was confirmed, when the second was accepted but not recorded;
- ``refresh``: while reading the audience's status back after the changes were sent.
The environment (connections, folders) comes from the test.
"""

from __future__ import annotations

import os
import signal
import sys

from airflow.dag_processing.dagbag import DagBag

from tiktok_audiences.hooks.tiktok import TikTokHook
from tiktok_audiences.metadata import AudienceStore

mode = sys.argv[2] if len(sys.argv) > 2 else "commit"
calls = {"confirm": 0, "sent": False}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _patch_confirm(name: str) -> None:
    original = getattr(AudienceStore, name)

    def confirm(self, *args, **kwargs):
        calls["confirm"] += 1
        if mode == "commit" or (mode == "mid_batch" and calls["confirm"] >= 2):
            _die()  # TikTok has accepted the batch this call would record
        return original(self, *args, **kwargs)

    setattr(AudienceStore, name, confirm)


for _name in ("confirm_added", "confirm_removed", "confirm_replaced"):
    _patch_confirm(_name)

_update, _create, _get = TikTokHook.update_audience, TikTokHook.create_audience, TikTokHook.get_audience
_map, _create_partner = TikTokHook.map_members, TikTokHook.create_partner_audience


def _update_and_mark(self, *args, **kwargs):
    _update(self, *args, **kwargs)
    calls["sent"] = True


def _create_and_mark(self, *args, **kwargs):
    audience_id = _create(self, *args, **kwargs)
    calls["sent"] = True
    return audience_id


def _map_and_mark(self, *args, **kwargs):
    size = _map(self, *args, **kwargs)
    calls["sent"] = True
    return size


def _create_partner_and_mark(self, *args, **kwargs):
    audience_id = _create_partner(self, *args, **kwargs)
    calls["sent"] = True
    return audience_id


def _get_or_die(self, *args, **kwargs):
    if mode == "refresh" and calls["sent"]:
        _die()
    return _get(self, *args, **kwargs)


TikTokHook.update_audience = _update_and_mark
TikTokHook.create_audience = _create_and_mark
TikTokHook.get_audience = _get_or_die
TikTokHook.map_members = _map_and_mark
TikTokHook.create_partner_audience = _create_partner_and_mark

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
run = bag.dags[f"tiktok_audience__{sys.argv[1]}"].test()
sys.exit(0 if run.state == "success" else 1)
