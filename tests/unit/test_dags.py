"""DAG integrity: one DAG per audience file, the documented shape, and clear import errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def dagbag(monkeypatch, audiences_dir):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("TIKTOK_AUDIENCES_DIR", str(audiences_dir))
    return DagBag(dag_folder=str(PROJECT / "dags"))


def test_one_dag_per_shipped_audience_with_the_documented_shape(monkeypatch):
    bag = dagbag(monkeypatch, PROJECT / "include" / "audiences")
    assert bag.import_errors == {}
    stems = sorted(p.stem for p in (PROJECT / "include" / "audiences").glob("*.yaml"))
    assert sorted(bag.dag_ids) == [f"tiktok_audience__{s}" for s in stems]
    for dag in bag.dags.values():
        assert dag.max_active_runs == 1
        assert dag.catchup is False
        assert "tiktok" in dag.tags
        assert set(dag.params) >= {"full_resync", "dry_run"}
        tasks = [t.task_id for t in dag.topological_sort()]
        assert tasks[:2] == ["extract_members", "sync_to_tiktok"]
        assert sorted(tasks[2:]) == sorted(
            ["cleanup_staging", "notify_alerts"]
            + (["sync_lookalike"] if dag.get_task("sync_to_tiktok").audience.lookalike else [])
        )
        assert dag.get_task("notify_alerts").is_teardown  # runs after failures, never decides the run's state
        assert dag.doc_md and "TikTok audience" in dag.doc_md


def test_each_dag_binds_its_own_audience(monkeypatch):
    bag = dagbag(monkeypatch, PROJECT / "include" / "audiences")
    for dag_id, dag in bag.dags.items():
        assert dag.get_task("sync_to_tiktok").audience.key == dag_id.removeprefix("tiktok_audience__")


def test_bad_definition_is_an_import_error_naming_file_field_and_fix(monkeypatch, tmp_path):
    (tmp_path / "good.yaml").write_text("name: Good\ninclude_segments: [1]\n")
    (tmp_path / "bad.yaml").write_text("name: Bad\ninclude_segmnts: [1]\n")
    bag = dagbag(monkeypatch, tmp_path)
    assert bag.dag_ids == ["tiktok_audience__good"]  # the valid audience keeps syncing
    [(path, error)] = bag.import_errors.items()
    assert path.endswith("tiktok_audience_definitions.py")
    assert "bad.yaml: field 'include_segmnts'" in error and "did you mean 'include_segments'" in error


@pytest.mark.parametrize("key", ["validate"])
def test_validate_command_reports_problems_and_exit_code(tmp_path, capsys, key):
    from tiktok_audiences.cli import main

    (tmp_path / "bad.yaml").write_text("name: Bad\n")
    assert main([key, "--dir", str(tmp_path)]) == 1
    assert "bad.yaml: field 'include_segments': is missing" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("name: Bad\ninclude_segments: [1]\n")
    assert main([key, "--dir", str(tmp_path)]) == 0


def test_audiences_naming_a_pool_share_it_for_their_tiktok_requests(monkeypatch, tmp_path):
    for key in ("a", "b"):
        (tmp_path / f"{key}.yaml").write_text(f"name: {key}\ninclude_segments: [1]\npool: tiktok_default_api\n")
    (tmp_path / "c.yaml").write_text("name: c\ninclude_segments: [1]\n")
    bag = dagbag(monkeypatch, tmp_path)
    pools = {dag_id: dag.get_task("sync_to_tiktok").pool for dag_id, dag in bag.dags.items()}
    assert pools == {
        "tiktok_audience__a": "tiktok_default_api",
        "tiktok_audience__b": "tiktok_default_api",
        "tiktok_audience__c": "default_pool",
    }


def test_lookalike_task_only_for_audiences_with_a_lookalike_block(monkeypatch, tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\ninclude_segments: [1]\nlookalike:\n  location_ids: ['6252001']\n")
    (tmp_path / "b.yaml").write_text("name: b\ninclude_segments: [1]\n")
    bag = dagbag(monkeypatch, tmp_path)
    assert "sync_lookalike" not in bag.dags["tiktok_audience__b"].task_ids
    task = bag.dags["tiktok_audience__a"].get_task("sync_lookalike")
    assert task.upstream_task_ids == {"sync_to_tiktok"}
    # Runs only after a successful sync (a failed sync still fails the run), and records its own
    # failures on the lookalike, never on the audience.
    assert task.trigger_rule == "all_success"
    assert task.audience.lookalike.location_ids == ("6252001",)
    from tiktok_audiences.callbacks import record_lookalike_failure

    assert task.on_failure_callback in (record_lookalike_failure, [record_lookalike_failure])


def test_parsing_the_dag_file_loads_neither_pandas_nor_the_normalizers():
    """The DAG file is parsed often (every 30 s by default): only Airflow and the audience files load."""
    code = ("import runpy, sys\n"
            "runpy.run_path('dags/tiktok_audiences.py')\n"
            "heavy = sorted(m for m in ('pandas', 'pyarrow', 'phonenumbers', 'tiktok_audiences.members') "
            "if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    project = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=project)
    assert result.returncode == 0, result.stderr[-2000:]
