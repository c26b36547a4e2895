"""Arrays and DataFrames in: validated with scikit-learn's own checks, as a source.

scikit-learn's ``validate_data`` learns or checks the number and names of the
features; its ValueErrors become our DataError, on one line. NaN and ±inf are
refused with the column and the row that hold them.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_sample_weight, validate_data

from ..errors import DataError
from ..numerics.checks import check_finite
from .source import ArraySource, check_groups


def _validated(estimator, *args, **kwargs):
    """sklearn's ``validate_data``, its ValueErrors (wrong number or names of
    features, text, wrong shapes) raised as our DataError with the same message."""
    try:
        return validate_data(estimator, *args, **kwargs)
    except ValueError as error:
        if isinstance(error, DataError):
            raise
        raise DataError(_one_line(str(error))) from None


def _one_line(message: str) -> str:
    """sklearn's multi-line feature-name message as one line: lists run on."""
    parts: list[str] = []
    for line in message.strip().splitlines():
        if line.startswith("- ") and parts:
            parts[-1] += (" " if parts[-1].endswith(":") else ", ") + line[2:]
        elif line.strip():
            parts.append(line.strip())
    return " ".join(p if p.endswith(".") else p + "." for p in parts)


def check_column_types(frame, role: str) -> None:
    """A DataFrame (or Series) whose columns are not all numbers: a DataError naming
    the first such column and what it holds, rather than NumPy's "could not convert
    string to float" about no column in particular."""
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None:
        return
    if not hasattr(frame, "columns"):  # a Series
        dtypes, frame = {frame.name: dtypes}, {frame.name: frame}
    else:
        dtypes = dict(zip(frame.columns, dtypes, strict=True))
    for name, dtype in dtypes.items():
        kind = getattr(dtype, "kind", "O")
        label = f"{role} column {str(name)!r}" if name is not None else role
        if kind in "biuf":
            continue
        if kind in "mM":
            raise DataError(
                f"{label} holds dates or times ({dtype}); convert them to numbers "
                "(say, days since a date) or drop the column"
            )
        if str(dtype) != "category" and _all_numbers(frame[name]):
            continue
        raise DataError(
            f"{label} holds text ({dtype}, such as {_first_text(frame[name])!r}); "
            "tapereg needs numbers: encode it (one 0/1 column per level) or drop it"
        )


def _all_numbers(column) -> bool:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    return not (values.isna() & column.notna()).any()


def _first_text(column):
    import pandas as pd

    numeric = pd.to_numeric(column.astype(object), errors="coerce")
    return column[numeric.isna() & column.notna()].iloc[0]


def _target_names(y) -> list[str] | None:
    """Column names of a pandas target, if it has them."""
    name = getattr(y, "name", None)
    if name is not None and not hasattr(y, "columns"):
        return [str(name)]
    columns = getattr(y, "columns", None)
    return [str(c) for c in columns] if columns is not None else None


def _feature_names(estimator) -> list[str] | None:
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def array_source(
    estimator, X, y, sample_weight=None, groups=None, *, reset=True
) -> tuple[ArraySource, bool]:
    """(the validated rows as a source, whether y is 1-D); learns the features
    (``reset``), or checks them against those learned (``partial_fit``'s later
    calls).

    X and y keep float32 or float64; everything else becomes float64.
    """
    check_column_types(X, "feature")
    check_column_types(y, "target")
    target_names = _target_names(y)
    y_values = np.asarray(y)
    if y_values.dtype.kind == "f" and y_values.ndim in (1, 2) and y_values.size:
        check_finite(y_values.reshape(y_values.shape[0], -1), "y", target_names)
    X, y = _validated(
        estimator,
        X,
        y,
        multi_output=True,
        y_numeric=True,
        dtype=[np.float64, np.float32],
        ensure_all_finite=False,
        reset=reset,
    )
    Y = y.reshape(-1, 1) if y.ndim == 1 else y
    feature_names = _feature_names(estimator)
    check_finite(X, "X", feature_names)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if groups is not None:
        groups = check_groups(groups, X.shape[0], "groups")
    source = ArraySource(
        X,
        Y,
        sample_weight,
        feature_names=feature_names,
        target_names=target_names,
        groups=groups,
    )
    return source, y.ndim == 1


def check_same_features(estimator, source) -> None:
    """A stream's feature and target names, where it names them, are the fitted
    model's (``partial_fit_stream`` adds rows to the same columns)."""
    for what, attribute, given in (
        ("features", "feature_names_in_", source.feature_names),
        ("targets", "target_names_", source.target_names),
    ):
        fitted = getattr(estimator, attribute, None)
        if fitted is None or given is None:
            continue
        fitted = [str(n) for n in fitted]
        if list(given) != fitted:
            raise DataError(
                f"the stream's {what} {', '.join(given)} are not the model's: "
                f"{', '.join(fitted)}"
            )


def features_to_predict(estimator, X) -> np.ndarray:
    """X checked against the features the estimator was fitted on."""
    check_column_types(X, "feature")
    X = _validated(
        estimator,
        X,
        reset=False,
        dtype=[np.float64, np.float32],
        ensure_all_finite=False,
    )
    check_finite(X, "X", _feature_names(estimator))
    return X
