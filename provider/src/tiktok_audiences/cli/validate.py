"""``tiktok-audiences validate``: check the audience definition files, as the DAG factory reads them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tiktok_audiences.cli.project import PROJECT_DIR


def add_command(commands) -> None:
    validate = commands.add_parser("validate", help="check the audience definition files")
    validate.add_argument("--dir", default=None,
                          help="audiences folder (default: $TIKTOK_AUDIENCES_DIR or include/audiences)")
    validate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tiktok_audiences.definitions import audiences_dir, load_audiences

    directory = Path(args.dir) if args.dir else audiences_dir(PROJECT_DIR / "include" / "audiences")
    definitions, problems = load_audiences(directory)
    for definition in definitions:
        print(f"ok    {Path(definition.path).name}: '{definition.name}' -> DAG {definition.dag_id}")
    for problem in problems:
        print(f"error {problem}", file=sys.stderr)
    print(f"{len(definitions)} valid, {len({p.path for p in problems})} invalid audience file(s) in {directory}")
    return 1 if problems else 0
