"""Long LAPACK calls that Ctrl-C can still stop within a fraction of a second.

Python runs signal handlers in the main thread, between bytecodes: a QR or an SVD
that takes a minute inside LAPACK (NumPy releases the GIL there) holds Ctrl-C until
it returns. :func:`interruptible` runs such a call in a daemon thread while the
main thread waits in short joins, so ``KeyboardInterrupt`` is raised at once; the
abandoned call finishes or dies with the process. Small calls run inline: a thread
is not worth it below :data:`THREAD_MIN_ELEMENTS`.
"""

from __future__ import annotations

import threading

THREAD_MIN_ELEMENTS = 1 << 22  # about 4 million: a QR of that takes ~0.1 s
WAIT_SECONDS = 0.05


def interruptible(function, *args, size: int, **kwargs):
    """``function(*args, **kwargs)``, stoppable by Ctrl-C; ``size`` is the number
    of elements it works on (inline below :data:`THREAD_MIN_ELEMENTS`, or off
    the main thread, where signals are not delivered anyway)."""
    if size < THREAD_MIN_ELEMENTS or threading.current_thread() is not (
        threading.main_thread()
    ):
        return function(*args, **kwargs)
    outcome: dict = {}

    def call():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed to the waiting thread
            outcome["error"] = error

    worker = threading.Thread(target=call, name="tapereg-linalg", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(WAIT_SECONDS)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
