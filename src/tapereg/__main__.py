"""``python -m tapereg``: the same command line as the ``tapereg`` script."""

from .cli import run

run()
