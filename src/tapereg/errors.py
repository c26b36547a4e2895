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
    """Training diverged: the loss became non-finite or grew by orders of magnitude."""


class ModelFileError(TaperegError):
    """A model file is missing, corrupt, foreign or from a newer tapereg."""


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
