"""The exceptions tapereg raises for a user's mistake.

Every one subclasses :class:`TaperegError`, which is also a ``ValueError`` so code
written for scikit-learn's conventions catches it. The CLI turns any of them into one
line on stderr and exit status 2.
"""

from __future__ import annotations


class TaperegError(ValueError):
    """Base class of every error caused by the user's input or parameters."""


class ParameterError(TaperegError):
    """A parameter has a value tapereg cannot use (named in the message)."""


class DataError(TaperegError):
    """The data cannot be used: a missing file or column, a non-numeric cell, NaN."""


class DivergenceError(TaperegError):
    """Training diverged: the loss became non-finite or grew by orders of magnitude.

    ``loss`` and ``epoch`` say where (None when not known).
    """

    loss: float | None = None
    epoch: int | None = None


class ModelFileError(TaperegError):
    """A model file is missing, corrupt, not a valid model, foreign or from a newer
    tapereg."""


class ExportError(TaperegError):
    """An export directory cannot be written (it holds something else)."""


class ClusterError(TaperegError):
    """Training across workers failed: a worker died or could not be reached, or
    the cluster is not described (``TF_CONFIG``)."""


class CollinearityWarning(UserWarning):
    """Columns of X are linearly dependent; the minimum-norm solution is used."""


class ConstantColumnWarning(CollinearityWarning):
    """A feature column is constant: beside the intercept it carries nothing, and
    its coefficient is 0."""


class ConstantTargetWarning(UserWarning):
    """A target column is constant: every coefficient is 0 and R² is undefined."""


_PACKAGE = __file__.rsplit("errors.py", 1)[0]


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the first caller outside tapereg: the user's line.

    A fixed ``stacklevel`` breaks whenever the call depth inside tapereg changes
    (``fit`` and ``fit_stream`` reach the same check at different depths); Python
    3.12's ``skip_file_prefixes`` does what this does, for older versions too.
    """
    import sys
    import warnings

    level, frame = 2, sys._getframe(1)  # stacklevel 2: the caller of warn()
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)
