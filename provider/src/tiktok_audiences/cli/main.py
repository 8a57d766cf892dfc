"""``tiktok-audiences``: validate audience files, build the demo, print the audiences table.

Airflow is imported only inside the commands that need it, after the environment is set, so that
``validate`` stays instant and ``demo`` can point Airflow at the project's own folders.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tiktok_audiences.cli import demo, integration, settings, table, validate


def main(argv: Sequence[str] | None = None) -> int:
    # This module's docstring is the command's --help text.
    parser = argparse.ArgumentParser(prog="tiktok-audiences", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    # In the order --help lists them; each command sets its own ``run``.
    validate.add_command(commands)
    demo.add_demo_db_command(commands)
    table.add_command(commands)
    settings.add_command(commands)
    demo.add_demo_command(commands)
    integration.add_command(commands)

    args = parser.parse_args(argv)
    return args.run(args)
