"""``python -m app.cli``: the ``spaces`` command, for tests and a checkout without the script."""

import sys

from app.cli import main

sys.exit(main())
