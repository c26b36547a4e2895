"""A table handed to ``fit``: formula, categories and missing rows, before validation.

:func:`prepare` turns what the user gave (a DataFrame and a formula, or a
DataFrame with text columns, or plain arrays) into numeric X and y for the usual
validation, with the :class:`~tapereg.design.encoding.Encoding` that made them
and the rows ``missing="drop"`` dropped. Plain numeric input passes through
untouched, so arrays cost nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError, ParameterError, warn
from .encoding import encode_frame, encode_targets, learn_encoding, needs_encoding


@dataclass(frozen=True)
class Prepared:
    """Numeric X (a DataFrame named by the design's columns where encoded), y,
    the weights and groups of the rows kept, and the encoding (or None)."""

    X: object
    y: object
    sample_weight: object
    groups: object
    encoding: object


def prepare(params: dict, X, y, sample_weight=None, groups=None) -> Prepared:
    """The fit's input after the formula, the categorical encoding and the
    dropping of rows with a missing value (``params``: the estimator's)."""
    import pandas as pd

    formula = params["formula"]
    if formula is not None:
        if y is not None:
            raise ParameterError(
                f"the formula {formula!r} names the target: call fit(data) without y"
            )
        if not hasattr(X, "columns"):
            X = _as_frame(X)
    elif y is None:
        raise ParameterError(
            "LinearRegressor requires y to be passed, but the target y is None "
            "(a formula names the target instead)"
        )
    encoded = needs_encoding(X, formula, params["categorical"])
    if params["missing"] == "drop":
        X, y, sample_weight, groups = _drop_missing(
            X, y, sample_weight, groups, used_columns(X, formula)
        )
    if not encoded:
        return Prepared(X, y, sample_weight, groups, None)
    encoding = learn_encoding(X, formula)
    design = encode_frame(encoding, X)
    if formula is not None:
        targets = encode_targets(encoding, X)
        y = pd.DataFrame(targets, columns=list(encoding.targets))
        if y.shape[1] == 1:
            y = y.iloc[:, 0]
    return Prepared(design, y, sample_weight, groups, encoding)


def _as_frame(X):
    import pandas as pd

    try:
        return pd.DataFrame(X)
    except (TypeError, ValueError):
        raise DataError(
            "a formula needs a table with named columns (a pandas DataFrame or a "
            f"dict of columns), got {type(X).__name__}"
        ) from None


def used_columns(X, formula) -> list | None:
    """The columns a missing value in which drops a row (None: all of X's)."""
    if formula is None or not hasattr(X, "columns"):
        return None
    from .encoding import parse_formula

    parsed = parse_formula(formula)
    names = set(parsed.rhs.required_variables)
    if hasattr(parsed, "lhs"):
        names |= set(parsed.lhs.required_variables)
    return [c for c in X.columns if c in names]


def _drop_missing(X, y, sample_weight, groups, columns):
    """The rows without a missing value (NaN, None, NaT) in the used columns, in
    y, the weights or the groups; a warning says how many were dropped."""
    bad = missing_rows(X, y, sample_weight, groups, columns)
    n_bad = int(bad.sum())
    if not n_bad:
        return X, y, sample_weight, groups
    if n_bad == len(bad):
        raise DataError(
            f"every one of the {len(bad):,} rows has a missing value; nothing is "
            "left to fit"
        )
    warn_dropped(n_bad, len(bad))
    return kept_rows(~bad, X, y, sample_weight, groups)


def warn_dropped(n_dropped: int, n_rows: int) -> None:
    warn(
        f"dropped {n_dropped:,} of {n_rows:,} rows with a missing value "
        "(missing='drop')",
        UserWarning,
    )


def missing_rows(X, y, sample_weight, groups, columns) -> np.ndarray:
    """Which rows have a missing value in X's ``columns`` (None: all), y, the
    weights or the groups."""
    if hasattr(X, "columns"):
        frame = X if columns is None else X[columns]
        bad = frame.isna().any(axis=1).to_numpy()
    else:
        bad = _missing_rows(X)
    for extra in (y, sample_weight, groups):
        if extra is not None:
            bad = bad | _missing_rows(extra)
    return bad


def kept_rows(keep, *values):
    """Each of ``values`` (pandas, arrays or None) at the rows ``keep``."""
    import pandas as pd

    def kept(value):
        if value is None:
            return None
        if isinstance(value, pd.DataFrame | pd.Series):
            return value.iloc[keep]
        return np.asarray(value)[keep]

    return tuple(kept(value) for value in values)


def _missing_rows(values) -> np.ndarray:
    import pandas as pd

    if isinstance(values, pd.DataFrame):
        return values.isna().any(axis=1).to_numpy()
    if isinstance(values, pd.Series):
        return values.isna().to_numpy()
    array = np.asarray(values)
    return pd.isna(array).reshape(len(array), -1).any(axis=1)
