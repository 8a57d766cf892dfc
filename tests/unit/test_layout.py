"""The package's layout holds as docs/architecture.md draws it: rooms on floors, imports only downward.

Read from the source (every import, also those inside functions), so a new upward import or an
Airflow import in a pure room fails here rather than in a picture nobody looks at.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tiktok_audiences

PACKAGE = Path(tiktok_audiences.__file__).parent

#: Each room's floor, lowest first; a room imports only rooms on lower floors (and itself).
FLOORS = {
    "home": 0, "db": 0,
    "definitions": 1,
    "members": 2,
    "metadata": 3, "tiktok": 3,
    "sync": 4, "hooks": 4, "integration": 4,
    "operators": 5, "reporting": 5,
    "callbacks": 6, "ui": 6, "cli": 6,
    "dag_factory": 7,
}
#: Rooms that never import Airflow, and rooms that import it only inside functions.
NO_AIRFLOW = {"home", "db", "definitions", "sync", "tiktok", "reporting"}
AIRFLOW_ONLY_IN_FUNCTIONS = {"members", "metadata"}


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] in ("__init__", "get_provider_info"):  # the package itself; metadata read by Airflow
            continue
        found.append((parts[0], path))
    return found


def imports(path: Path) -> list[tuple[str, bool]]:
    """Every imported module name, and whether the import is at module level."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    top |= {id(n) for node in tree.body if isinstance(node, ast.If) for n in node.body}  # TYPE_CHECKING
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [(node.module, id(node) in top)]
            names += [(f"{node.module}.{alias.name}", id(node) in top) for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [(alias.name, id(node) in top) for alias in node.names]
    return names


def test_every_room_has_a_floor():
    assert {room for room, _ in modules()} == set(FLOORS)


def _id(value: object) -> str:
    return str(value.relative_to(PACKAGE)) if isinstance(value, Path) else str(value)


@pytest.mark.parametrize(("room", "path"), modules(), ids=_id)
def test_a_room_imports_only_rooms_below_it(room, path):
    upward = sorted(
        name for name, _ in imports(path)
        if name.startswith("tiktok_audiences.") and (other := name.split(".")[1]) in FLOORS
        and other != room and FLOORS[other] >= FLOORS[room]
    )
    assert not upward, f"{path.relative_to(PACKAGE)} (floor {FLOORS[room]}) imports {upward}"


@pytest.mark.parametrize(
    ("room", "path"), [(r, p) for r, p in modules() if r in NO_AIRFLOW | AIRFLOW_ONLY_IN_FUNCTIONS], ids=_id
)
def test_pure_rooms_do_not_import_airflow(room, path):
    airflow = [(name, top) for name, top in imports(path) if name == "airflow" or name.startswith("airflow.")]
    if room in NO_AIRFLOW:
        assert not airflow, f"{path.relative_to(PACKAGE)} imports {airflow}"
    else:
        at_top = [name for name, top in airflow if top]
        assert not at_top, f"{path.relative_to(PACKAGE)} imports Airflow at module level: {at_top}"
