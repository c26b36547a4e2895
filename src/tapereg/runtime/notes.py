"""Notes on long phases: what is being computed while nothing else shows it.

They go to the ``tapereg`` logger at INFO: the command line prints them on stderr
(``tapereg: ...``) unless ``--quiet``; a program sees them after
``logging.basicConfig(level=logging.INFO)``. Only phases of at least
:data:`LONG_FLOPS` are noted, so small fits say nothing.
"""

from __future__ import annotations

import logging

LOGGER = logging.getLogger("tapereg")
# Floating-point operations from which a phase is worth a note: a few seconds
# of LAPACK on a laptop's cores.
LONG_FLOPS = 1e10


def factoring_flops(n_rows: int, n_columns: int) -> float:
    """About what a QR of the rows and an SVD of its factor cost."""
    small = min(n_rows, n_columns)
    return 2.0 * n_rows * n_columns * small + 4.0 * small * small * n_columns


def note_if_long(flops: float, message: str) -> None:
    """Log ``message`` when the phase it announces costs ``flops`` or more."""
    if flops >= LONG_FLOPS:
        LOGGER.info(message)
