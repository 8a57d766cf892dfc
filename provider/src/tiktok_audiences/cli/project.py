"""The project the command works in: the folder it is started from (its ``dags/``, ``plugins/``, ``include/``)."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path.cwd()
