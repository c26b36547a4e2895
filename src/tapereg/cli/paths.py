"""Every path a command reads or writes, checked before any work starts.

A command that would write over one of its inputs (``fit d.csv --save d.csv``), write
two outputs to one file (``--save P --plot P``) or into a folder that does not exist
is refused here, in a second, rather than after an hour of training, and always with
the user's own spelling of the paths. Standard input and output (``-``) are not files
and are never compared.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ..errors import ParameterError, TaperegError

STDIO = "-"


@dataclass(frozen=True)
class Output:
    """One path a command writes, as the user typed it.

    ``kind`` is ``"file"`` (written whole, atomically: its folder must exist),
    ``"folder"`` (files are written into it; missing folders are created) or
    ``"replaced folder"`` (built beside and renamed over: ``export DIR``, whose
    parent must exist and whose contents are replaced).
    """

    flag: str
    path: str
    kind: str = "file"

    @property
    def label(self) -> str:
        return f"{self.flag} {self.path}"


def check_paths(inputs: list[tuple[str, str]], outputs: list[Output]) -> None:
    """Refuse an output that is an input, two outputs that are one file, or an
    output whose folder is missing or not writable.

    ``inputs`` are ``(what, path)`` pairs, ``what`` naming the argument (``"data
    file"``, ``"model file"``), with glob patterns already expanded.
    """
    outputs = [o for o in outputs if o.path and o.path != STDIO]
    inputs = [(what, path) for what, path in inputs if path != STDIO]
    for output in outputs:
        for what, path in inputs:
            if _same_file(output.path, path) or (
                output.kind == "replaced folder" and _inside(path, output.path)
            ):
                raise ParameterError(
                    f"{output.label} would overwrite the {what} {path}; "
                    "write the output somewhere else"
                )
    for i, first in enumerate(outputs):
        for second in outputs[i + 1 :]:
            if _same_file(first.path, second.path):
                raise ParameterError(
                    f"{first.label} and {second.label} are the same path; "
                    "give each output its own"
                )
    for output in outputs:
        _check_writable(output)


def _same_file(a: str, b: str) -> bool:
    """The same file by resolved path (links followed), or by device and inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def _inside(path: str, folder: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([os.path.realpath(path), folder]) == folder


def _check_writable(output: Output) -> None:
    path = output.path
    if output.kind == "file":
        if os.path.isdir(path):
            raise ParameterError(f"{output.label}: is a folder; name a file in it")
        _check_folder(output, os.path.dirname(path) or ".")
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise ParameterError(f"{output.label}: exists and is not a folder")
    if output.kind == "replaced folder":
        _check_folder(output, os.path.dirname(os.path.normpath(path)) or ".")
        return
    # A folder that is created when missing: the nearest existing one must take it.
    existing = os.path.normpath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing) or "."
    if not os.path.isdir(existing):
        raise ParameterError(f"{output.label}: {existing} is not a folder")
    _check_folder(output, existing)


def _check_folder(output: Output, folder: str) -> None:
    if not os.path.isdir(folder):
        raise ParameterError(f"{output.label}: no folder {folder}; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(f"{output.label}: cannot write into the folder {folder}")


@contextlib.contextmanager
def training_data(args):
    """``args.data`` as :func:`standard_input_as_file` gives it, for a command
    that may train on workers, which cannot share standard input."""
    if STDIO in args.data and args.strategy == "multi-worker":
        raise ParameterError(
            "standard input (-) cannot be shared by workers; write it to a file"
        )
    with standard_input_as_file(args.data) as data:
        yield data


@contextlib.contextmanager
def standard_input_as_file(paths: list[str]):
    """The data paths with ``-`` (standard input, CSV) replaced by a temporary copy.

    Training passes over its data more than once and a pipe can be read only once,
    so standard input is copied to a file first (a block at a time: any size).
    Messages about the copy name ``<stdin>``, not the temporary file.
    """
    if STDIO not in paths:
        yield list(paths)
        return
    if paths.count(STDIO) > 1:
        raise ParameterError("standard input (-) can be read only once")
    import shutil
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tapereg-stdin-") as folder:
        copy = os.path.join(folder, "stdin.csv")
        with open(copy, "wb") as file:
            shutil.copyfileobj(sys.stdin.buffer, file)
        try:
            yield [copy if path == STDIO else path for path in paths]
        except TaperegError as error:
            if copy not in str(error):
                raise
            raise type(error)(str(error).replace(copy, "<stdin>")) from None
