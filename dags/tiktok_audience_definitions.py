"""Report invalid TikTok audience definitions as an Airflow DAG import error.

Valid audiences keep their DAGs (dags/tiktok_audiences.py skips only the broken files); this file
exists so that a broken audience file shows up in the Airflow UI as an import error whose message
names the file, the field and the fix. It defines no DAG of its own.
"""

from __future__ import annotations

from pathlib import Path

from tiktok_audiences.definitions import AudienceDefinitionError, audiences_dir, load_audiences

_default_dir = Path(__file__).resolve().parent.parent / "include" / "audiences"
_definitions, _problems = load_audiences(audiences_dir(_default_dir))
if _problems:
    raise AudienceDefinitionError(_problems)
