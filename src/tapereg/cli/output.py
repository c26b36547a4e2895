"""What every command shares for output: TensorFlow kept quiet, text or JSON."""

from __future__ import annotations

import json
import os
import sys


def quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter kept off the terminal.

    TensorFlow logs (CUDA probing, CPU features) through absl before it reads
    ``TF_CPP_MIN_LOG_LEVEL``, so stderr's descriptor is pointed at /dev/null for the
    import itself. Setting ``TF_CPP_MIN_LOG_LEVEL`` yourself shows everything.
    """
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import tensorflow

        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def emit(report: dict, text: str, as_json: bool) -> None:
    print(json.dumps(report) if as_json else text)


def warnings_to_stderr(caught) -> None:
    for warning in caught:
        print(f"tapereg: warning: {warning.message}", file=sys.stderr)
