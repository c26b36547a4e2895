"""Write a file all at once: a temporary file in the same folder, then a rename.

An interrupted run leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", **open_kwargs):
    """Write to a temporary sibling of ``path``; rename it over ``path`` on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder
        )
    except OSError as error:
        raise _about(error, path) from None
    try:
        with os.fdopen(fd, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would.
        os.chmod(temporary, 0o666 & ~umask())
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise _about(error, path) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _about(error: OSError, path: str) -> OSError:
    """The same error naming the user's path, never the hidden temporary file."""
    return type(error)(error.errno, error.strerror, path)
