"""``python -m tiktok_audiences.cli``: the same as the ``tiktok-audiences`` command."""

import sys

from tiktok_audiences.cli import main

if __name__ == "__main__":  # importing the module (pkgutil.walk_packages) must not run the command
    sys.exit(main())
