"""Raw identifiers and secrets never leave the task process: not in logs, XCom, files or databases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.contacts import ContactDatabase, email, maid, phone
from tiktok_sandbox.config import SandboxConfig

pytestmark = pytest.mark.integration


def raw_values(ids) -> list[bytes]:
    values = []
    for i in ids:
        values += [email(i), email(i).upper(), phone(i)[1:], maid(i), maid(i).upper()]
    return [v.encode() for v in values]


def files_under(*roots: Path):
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


def test_no_raw_identifier_or_token_anywhere_after_success_and_failure(audience_env, api, tmp_path, capfd):
    db = ContactDatabase(audience_env.contacts)
    db.add_contacts(range(1, 1301))
    db.add_segment(1, "All", criteria="contact_id > 0")
    db.add_segment(2, "Some", criteria="contact_id <= 100")
    audience_env.write_audience("private", name="Private", include_segments=[1], exclude_segments=[2])
    assert audience_env.run("private").state == "success"
    db.execute("UPDATE segments SET criteria = 'no_such_column = 1' WHERE segment_id = 2")
    assert audience_env.run("private").state == "failed"  # fails inside extraction, after reading contacts

    secrets = [SandboxConfig().access_token.encode()]
    needles = raw_values([*range(1, 6), *range(101, 106), 1300]) + secrets
    logs = "".join(capfd.readouterr()).encode()
    assert b"Created TikTok audience" in logs
    leaks = [n for n in needles if n in logs]
    assert leaks == [], f"found in task logs: {leaks[:3]}"

    airflow_home = Path(os.environ["AIRFLOW_HOME"])  # Airflow's DB (XCom, rendered fields), staging, logs
    # The identifier cache (hashes kept between runs) lives under AIRFLOW_HOME too, so it is scanned.
    assert list((airflow_home / "tiktok_audiences" / "cache" / "private").rglob("*.parquet"))
    for path in files_under(airflow_home, tmp_path):
        content = path.read_bytes()
        leaks = [n for n in needles if n in content]
        assert leaks == [], f"found in {path}: {leaks[:3]}"

    staging = airflow_home / "staging" / "tiktok_audience__private"
    assert not staging.exists() or list(staging.iterdir()) == []  # temporary files removed, also on failure
