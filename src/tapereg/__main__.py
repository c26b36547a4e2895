"""``python -m tapereg``: the same command line as the ``tapereg`` script."""

import sys

from .cli import main

sys.exit(main())
