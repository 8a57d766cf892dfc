"""The ``tiktok-audiences`` command (console script ``tiktok_audiences.cli:main``; also
``python -m tiktok_audiences.cli``).

One module per command group: :mod:`.main` (the parser), :mod:`.validate`, :mod:`.table`,
:mod:`.settings` (``load-settings``), :mod:`.demo` (``demo`` and ``demo-db``), :mod:`.integration`;
:mod:`.project` is the folder the command runs in.

May import every room below it (definitions, metadata, reporting, integration; Airflow and the
sandbox only inside a command). Never :mod:`tiktok_audiences.ui`: what both show lives in
:mod:`tiktok_audiences.reporting`.
"""

from tiktok_audiences.cli.main import main

__all__ = ["main"]
