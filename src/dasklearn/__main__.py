"""``python -m dasklearn``: the ``dasklearn`` command."""

import sys

from dasklearn.cli import main

sys.exit(main())
