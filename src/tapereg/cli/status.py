"""The command line's exit statuses."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    BAD_INPUT = 2
    INTERRUPTED = 130
