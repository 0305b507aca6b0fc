"""``python -m memxbar``: the command line (:mod:`memxbar.cli`)."""

import sys

from .cli import main

sys.exit(main())
