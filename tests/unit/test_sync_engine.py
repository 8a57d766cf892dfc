"""The sync engine without Airflow: what TikTok holds after each run, and what the run records.

The engine runs against :mod:`tests.unit.tiktok_double` (TikTok's operations in memory) and a real
metadata store on SQLite, with staged member files written as the extract task writes them. The
same flows run against the sandbox over HTTP through the real hook in ``tests/integration``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tests.unit.tiktok_double import TikTokDouble, retryable
from tiktok_audiences.definitions import AudienceDefinition
from tiktok_audiences.members import membership, staging
from tiktok_audiences.metadata import AudienceStore, LockHolder
from tiktok_audiences.sync.engine import AudienceSync
from tiktok_audiences.sync.errors import SyncFailed, SyncRetry
from tiktok_audiences.sync.options import SyncOptions
from tiktok_audiences.tiktok.errors import TikTokRetryableError

LOG = logging.getLogger("test_sync_engine")


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def emails(contacts: range) -> set[tuple[str, str]]:
    return {("email", sha(f"user{i}@example.com")) for i in contacts}


class Harness:
    """One audience: staged members per run, the store, TikTok; ``run`` is one run of the engine."""

    def __init__(self, tmp_path: Path, api: str | None = None, batch_size: int = 500) -> None:
        self.tmp_path = tmp_path
        self.store = AudienceStore(sa.create_engine(f"sqlite:///{tmp_path / 'meta.db'}"))
        self.store.migrate()
        self.tiktok = TikTokDouble()
        self.definition = AudienceDefinition(key="buyers", path="buyers.yaml", name="Buyers", include_segments=(1,),
                                             identifiers=("email",), api=api)
        self.batch_size = batch_size
        self.runs = 0

    def stage(self, include: range, exclude: range = range(0)) -> Path:
        folder = self.tmp_path / f"run-{self.runs}"
        folder.mkdir()
        for role, contacts in (("include", include), ("exclude", exclude)):
            ids = list(contacts)
            keys = membership.identifier_keys(pa.array(["email"] * len(ids)),
                                              pa.array([sha(f"user{i}@example.com") for i in ids]))
            table = pa.table({"contact_id": pa.array(ids, pa.int64()), "key": keys}, schema=staging.MEMBER_SCHEMA)
            staging.write_frames(folder / f"{role}.parquet", [table], staging.MEMBER_SCHEMA)
        staging.write_frames(folder / "static_members.parquet", [], staging.STATIC_MEMBER_SCHEMA)
        (folder / "segments.json").write_text(json.dumps([{"segment_id": 1, "name": "s", "criteria": "true",
                                                           "deleted": False}]))
        return folder

    def run(self, include: range, exclude: range = range(0), **options: object) -> dict:
        folder = self.stage(include, exclude)
        self.runs += 1
        run_id = f"manual__{self.runs}"
        sync = AudienceSync(self.definition, SyncOptions(batch_size=self.batch_size, **options),  # type: ignore[arg-type]
                            client=self.tiktok, store=self.store, holder=LockHolder.for_run(run_id), log=LOG)
        summary = {"run_folder": str(folder), "include_contacts": len(include)}
        return sync.run(run_id=run_id, dag_id="tiktok_audience__buyers", extract_summary=summary,
                        folder_from_url=Path)

    def row(self) -> dict:
        row = self.store.get_audience("buyers")
        assert row is not None
        return row


@pytest.fixture(params=["customer_file", "partner"])
def harness(request, tmp_path) -> Harness:
    return Harness(tmp_path, api=request.param)


def test_the_engine_and_senders_import_no_airflow():
    code = ("import sys\n"
            "import tiktok_audiences.sync.engine, tiktok_audiences.sync.lookalike_sync, tiktok_audiences.sync.senders\n"
            "loaded = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
            "assert not loaded, loaded[:5]\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_create_then_incremental_runs_leave_tiktok_with_exactly_the_audience(harness):
    first = harness.run(range(1200))
    assert harness.tiktok.members() == emails(range(1200))
    assert (first["outcome"], first["status"], first["plan"]["mode"], first["added"]) == ("success", "Active",
                                                                                          "create", 1200)
    second = harness.run(range(100, 1300))
    assert harness.tiktok.members() == emails(range(100, 1300))
    assert (second["plan"]["mode"], second["added"], second["removed"]) == ("incremental", 100, 100)
    assert len(harness.tiktok.audiences) == 1
    assert harness.row()["size"] == 1200 and harness.row()["status"] == "Active"


def test_exclude_segments_are_never_sent(harness):
    harness.run(range(1500), exclude=range(1000, 1500))
    assert harness.tiktok.members() == emails(range(1000))


def test_additions_are_sent_before_removals_in_batches(tmp_path):
    harness = Harness(tmp_path, batch_size=200)
    harness.run(range(1200))
    harness.tiktok.calls.clear()
    harness.run(range(300, 1600))
    applied = [c for c in harness.tiktok.calls if c in ("APPEND", "REMOVE")]
    assert applied == ["APPEND", "APPEND", "REMOVE", "REMOVE"]  # 400 added, 300 removed, 200 per file
    assert harness.tiktok.members() == emails(range(300, 1600))


def test_a_batch_whose_answer_was_lost_is_settled_by_the_next_run(harness):
    harness.run(range(1200))
    # TikTok applies the addition, then the answer never arrives.
    operation = "map_add" if harness.definition.api == "partner" else "APPEND"
    harness.tiktok.after[operation] = lambda: (_ for _ in ()).throw(retryable("/dmp/custom_audience/update/"))
    with pytest.raises(TikTokRetryableError):
        harness.run(range(1300))
    harness.run(range(1250))  # the 50 sent but unconfirmed identifiers left the audience meanwhile
    assert harness.tiktok.members() == emails(range(1250))
    assert "never recorded TikTok's answer" in (harness.row()["status_message"] or "")


def test_a_create_whose_answer_was_lost_is_adopted_not_repeated(harness):
    operation = "create_partner" if harness.definition.api == "partner" else "create"
    harness.tiktok.after[operation] = lambda: (_ for _ in ()).throw(retryable("/dmp/custom_audience/create/"))
    with pytest.raises(SyncRetry, match="the retry reconciles"):
        harness.run(range(1200))
    harness.run(range(1200))
    assert len(harness.tiktok.audiences) == 1
    assert harness.tiktok.members() == emails(range(1200))
    assert "adopted TikTok audience" in (harness.row()["status_message"] or "")


def test_the_removal_guard_stops_a_run_that_would_empty_most_of_the_audience(harness):
    harness.run(range(2000))
    harness.tiktok.calls.clear()
    with pytest.raises(SyncFailed, match="Removal guard"):
        harness.run(range(1200))
    assert harness.tiktok.members() == emails(range(2000))
    assert not {"REMOVE", "map_delete"} & set(harness.tiktok.calls)
    harness.run(range(1200), allow_large_removal=True)
    assert harness.tiktok.members() == emails(range(1200))


def test_a_dry_run_sends_nothing_and_reports_the_plan(harness):
    harness.run(range(1200))
    harness.tiktok.calls.clear()
    result = harness.run(range(1300), dry_run=True)
    assert harness.tiktok.calls == []
    assert result["plan"] == {"mode": "incremental", "to_add": 100, "to_remove": 0, "identifiers": 1300}
    (last, *_) = harness.store.run_history("buyers", limit=1)
    assert last["outcome"] == "dry_run" and last["message"].startswith("Dry run: would incremental (+100 / -0")


def test_fewer_contacts_than_tiktoks_minimum_are_not_sent(harness):
    result = harness.run(range(999))
    assert (result["outcome"], result["status"]) == ("too_small", "Too Small")
    assert harness.tiktok.audiences == {}
    assert "nothing was sent" in harness.row()["status_message"]


def test_a_full_resync_of_a_customer_file_audience_replaces_its_members(tmp_path):
    harness = Harness(tmp_path)
    harness.run(range(1200))
    harness.tiktok.audiences[next(iter(harness.tiktok.audiences))].members.add(("email", sha("stray@example.com")))
    result = harness.run(range(1200), full_resync=True)
    assert result["plan"]["mode"] == "replace"
    assert harness.tiktok.members() == emails(range(1200))
