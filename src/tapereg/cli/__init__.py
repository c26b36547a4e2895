"""The ``tapereg`` command line: ``demo``, ``fit``, ``update``, ``predict``, ``export``.

``main(argv) -> int`` parses (``arguments``), dispatches through ``COMMANDS`` (a
module per command) and maps a user's mistake to one stderr line and exit status 2.
Only argparse is imported at start-up; NumPy, scikit-learn and TensorFlow load
inside the command that needs them, so ``--help`` is instant. The commands talk to
the estimator, the readers and the writers; they do no numerics themselves.
"""

from __future__ import annotations

import os
import sys

from ..errors import ModelFileError, TaperegError
from .arguments import build_parser
from .demo import run_demo_command
from .export import run_export_command
from .fit import run_fit_command
from .predict import run_predict_command
from .status import ExitStatus
from .update import run_update_command
from .vocabulary import in_cli_terms

COMMANDS = {
    "demo": run_demo_command,
    "fit": run_fit_command,
    "update": run_update_command,
    "predict": run_predict_command,
    "export": run_export_command,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command](args))
    except TaperegError as error:
        text = str(error)
        if not isinstance(error, ModelFileError):  # a file's fields keep their names
            text = in_cli_terms(text)
        one_line = " ".join(text.split())  # one line, whatever the message
        print(f"tapereg: error: {one_line}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    except BrokenPipeError:
        # The reader went away (``tapereg predict ... | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.ERROR
    except OSError as error:
        print(
            f"tapereg: error: {error.filename or ''}: {error.strerror or error}",
            file=sys.stderr,
        )
        return ExitStatus.BAD_INPUT
    except KeyboardInterrupt:
        print("tapereg: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED


def run() -> None:
    """The ``tapereg`` script: :func:`main`, then an exit that skips native teardown.

    pyarrow's thread pool can abort a process in the C++ destructors that run after
    Python has finished ("terminate called without an active exception", exit -6;
    apache/arrow#34314), when the work is done and every file closed. So the exit
    handlers Python registered run here, the streams are flushed, and the process
    leaves with ``os._exit``, before those destructors. A multi-worker process exits
    normally.
    """
    import atexit
    import contextlib

    try:
        status = main()
    except SystemExit as stop:  # argparse's --help, --version and usage errors
        status = stop.code
    if status is None:
        status = ExitStatus.SUCCESS
    elif not isinstance(status, int):
        print(status, file=sys.stderr)
        status = ExitStatus.ERROR
    distributed = sys.modules.get("tapereg.parallel.cluster")
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # in CPython 3.x
    if run_exit_handlers is None or (
        distributed is not None and distributed.joined_cluster()
    ):
        # A worker leaves through TensorFlow's own shutdown, which tells the cluster
        # it is done; a worker that just vanished fails the peers still finishing.
        sys.exit(int(status))
    run_exit_handlers()  # what interpreter exit would run, in the same order
    for stream in (sys.stdout, sys.stderr):
        # A reader gone (``| head``) or a stream already closed: nothing to flush to.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(int(status))


if __name__ == "__main__":
    run()
