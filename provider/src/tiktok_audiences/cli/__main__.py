"""``python -m tiktok_audiences.cli``: the same as the ``tiktok-audiences`` command."""

import sys

from tiktok_audiences.cli import main

sys.exit(main())
