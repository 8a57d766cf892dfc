"""Segment criteria must be one boolean expression; the SQL templates render as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tiktok_audiences.members.sql import SegmentError, SqlTemplates, read_only, validate_criteria

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"


@pytest.mark.parametrize(
    "criteria",
    [
        "subscription_status = 'subscribed'",
        "phone_country IN ('US', 'CA') AND email IS NOT NULL",
        "contact_id IN (SELECT contact_id FROM segment_members WHERE segment_id = 3)",
        "updated_at >= '2026-06-01' OR (email LIKE '%@example.com')",
    ],
)
def test_boolean_expressions_are_accepted(criteria):
    assert validate_criteria(criteria, segment_id=1, name="s") == criteria


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ("true; DROP TABLE contacts", "not several statements"),
        ("1 = 1; SELECT 1", "not several statements"),
        ("contact_id IN (DELETE FROM contacts RETURNING contact_id)", "'DELETE' is not allowed"),
        ("SELECT * FROM contacts", "is a statement, not a boolean expression"),
        ("email = 'x' -- AND 1 = 0", "comments"),
        ("(email = 'x'", "unbalanced"),
        ("   ", "empty criteria"),
    ],
)
def test_non_expressions_are_refused_with_segment_and_fix(criteria, message):
    with pytest.raises(SegmentError, match=message) as info:
        validate_criteria(criteria, segment_id=7, name="Spring")
    assert "segment 7 ('Spring')" in str(info.value) and "Fix:" in str(info.value)


def test_templates_render_placeholders():
    sql = SqlTemplates.load(SQL_DIR)
    rendered = sql.render("static_segment_filter.sql", segment_id="4")
    assert rendered == "contact_id IN (SELECT contact_id FROM segment_members WHERE segment_id = 4)"
    with pytest.raises(KeyError, match="segment_filter"):
        sql.render("segment_contacts.sql")


def test_missing_sql_file_names_the_file_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="segments.sql is missing"):
        SqlTemplates.load(tmp_path)


def test_extraction_transaction_is_read_only(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE contacts (contact_id INTEGER)")
    with pytest.raises(sa.exc.OperationalError, match="readonly"), read_only(engine) as conn:
        conn.exec_driver_sql("INSERT INTO contacts VALUES (1)")
