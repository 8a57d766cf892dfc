"""Runs of one audience started together never interleave their diffs or send anything twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.contacts import ContactDatabase, expected_identifiers

pytestmark = pytest.mark.integration


def test_three_simultaneous_runs_send_each_change_once(audience_env, api, tmp_path):
    db = ContactDatabase(audience_env.contacts)
    db.add_contacts(range(1, 1601))
    db.add_segment(1, "First 1400", criteria="contact_id <= 1400")
    audience_env.write_audience("together", name="Together", include_segments=[1])
    assert audience_env.run("together").state == "success"
    db.execute("UPDATE segments SET criteria = 'contact_id BETWEEN 101 AND 1500' WHERE segment_id = 1")
    audience_env.sandbox.control("DELETE", "requests")

    script = Path(__file__).with_name("run_dag.py")
    # Like a scheduled run, a manual run and a backfill, all started at once.
    logs = [tmp_path / f"run-{n}.log" for n in range(3)]
    runs = [
        subprocess.Popen([sys.executable, str(script), "together"], env=os.environ.copy(),
                         stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
        for log in logs
    ]
    codes = [run.wait(timeout=300) for run in runs]
    assert codes == [0, 0, 0], "\n\n".join(
        _failure_lines(log.read_text()) for code, log in zip(codes, logs, strict=True) if code
    )

    write = {"customer_file": "custom_audience/update", "partner": "segment/mapping"}[api]
    updates = [r for r in audience_env.sandbox.control("GET", "requests") if write in r["path"]]
    assert len(updates) == 2  # one APPEND and one REMOVE (add and delete) in total, not one pair per run
    row = audience_env.audience_row("together")
    assert audience_env.sandbox.members(row["tiktok_audience_id"]) == expected_identifiers(range(101, 1501))
    history = audience_env.store().run_history("together")
    changed = expected_identifiers(range(1401, 1501)) | expected_identifiers(range(1, 101))
    assert sum(h["added"] + h["removed"] for h in history[:3]) == len(changed)


def _failure_lines(log: str) -> str:
    """The lines of a run's log that say why it failed (errors and tracebacks), at most 60."""
    lines = log.splitlines()
    marks = [i for i, line in enumerate(lines) if "ERROR" in line or "Traceback" in line or "Exception" in line]
    if not marks:
        return "\n".join(lines[-40:])
    return "\n".join(lines[max(marks[0] - 5, 0): marks[0] + 55])
