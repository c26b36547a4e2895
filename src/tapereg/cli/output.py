"""What every command shares for output: TensorFlow kept quiet, text or JSON."""

from __future__ import annotations

import contextlib
import json
import os
import sys


def quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter kept off the terminal.

    TensorFlow logs (CUDA probing, CPU features, absl's "All log messages before
    absl::InitializeLog()") during its import whatever ``TF_CPP_MIN_LOG_LEVEL`` says,
    so stderr's descriptor is pointed at /dev/null for the import itself; the level
    (3 unless set) then keeps the rest quiet. ``TF_CPP_MIN_LOG_LEVEL=0`` asks for
    TensorFlow's logs: then everything is shown.
    """
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    if "tensorflow" in sys.modules or level == "0":
        import tensorflow

        return
    if level is None:
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
    """The text, or the report as strict JSON (anything undefined is null)."""
    if as_json:
        from ..io.json_values import strict_json

        text = json.dumps(strict_json(report), allow_nan=False)
    print(text)


def warnings_to_stderr(caught) -> None:
    """Each warning as one ``tapereg: warning:`` line, in the CLI's terms."""
    from .vocabulary import in_cli_terms

    for warning in caught:
        text = " ".join(in_cli_terms(str(warning.message)).split())
        print(f"tapereg: warning: {text}", file=sys.stderr)


@contextlib.contextmanager
def notes_to_stderr(*, enabled: bool):
    """While a command runs, show tapereg's notes on long phases
    (``runtime.notes``) as ``tapereg: ...`` lines on stderr."""
    if not enabled:
        yield
        return
    import logging

    logger = logging.getLogger("tapereg")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tapereg: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
