"""Reading training data from CSV (plain or gzip) and Parquet files into arrays.

pyarrow parses (multithreaded) and infers types; this module picks the columns and
turns every problem into a :class:`DataError` naming the file, the column and the row.
Rows are counted from 1, after the header.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Table:
    """Numeric columns of a file.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples, n_targets), float64, or None
    feature_names, target_names : list of str
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target_names: list[str]


def _read_arrow(path: str):
    """The whole file as a pyarrow Table, or a DataError saying why not."""
    import pyarrow as pa

    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")
    try:
        if path.lower().endswith(PARQUET_SUFFIXES):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    except (pa.ArrowException, OSError) as error:
        reason = (
            str(error).strip().splitlines()[0]
            if str(error).strip()
            else type(error).__name__
        )
        raise DataError(f"{path}: cannot read it: {reason}") from error


def _column_as_float(path: str, table, name: str) -> np.ndarray:
    """One column as float64, refusing missing, non-numeric and non-finite cells."""
    import pyarrow as pa

    column = table.column(name)
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        for row, value in enumerate(column.to_pylist(), start=1):
            try:
                float(value)
            except (TypeError, ValueError):
                raise DataError(
                    f"{path}: column '{name}', row {row}: {value!r} is not a number"
                ) from None
        raise DataError(f"{path}: column '{name}' holds text, not numbers")
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
    ):
        raise DataError(f"{path}: column '{name}' has type {kind}, not numbers")
    if column.null_count:
        row = (
            int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        )
        raise DataError(f"{path}: column '{name}', row {row}: missing value")
    values = column.to_numpy().astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(
            f"{path}: column '{name}', row {bad[0] + 1}: {values[bad[0]]} is not a "
            "finite number"
        )
    return values


def _check_columns(
    path: str, available: list[str], wanted: list[str], role: str
) -> None:
    for name in wanted:
        if name not in available:
            raise DataError(
                f"{path}: no {role} column '{name}' (columns: {', '.join(available)})"
            )


def _as_matrix(path: str, table, names: list[str]) -> np.ndarray:
    if not names:
        return np.empty((table.num_rows, 0))
    return np.column_stack([_column_as_float(path, table, n) for n in names])


def read_table(path, target, features=None) -> Table:
    """Read the target column(s) and feature columns of a CSV or Parquet file.

    Parameters
    ----------
    path : str or PathLike
        ``.csv``, ``.csv.gz`` (gzip by suffix) or ``.parquet``/``.pq``.
    target : str or list of str
    features : list of str, optional
        Default: every column that is not a target.

    Returns
    -------
    Table
    """
    path = os.fspath(path)
    table = _read_arrow(path)
    available = table.column_names
    targets = [target] if isinstance(target, str) else list(target)
    _check_columns(path, available, targets, "target")
    if features is None:
        features = [c for c in available if c not in targets]
    else:
        features = list(features)
        _check_columns(path, available, features, "feature")
    if not features:
        raise DataError(f"{path}: no feature columns besides the target")
    if table.num_rows == 0:
        raise DataError(f"{path}: no data rows")
    return Table(
        X=_as_matrix(path, table, features),
        y=_as_matrix(path, table, targets),
        feature_names=features,
        target_names=targets,
    )


def read_features(path, feature_names: list[str] | None, n_features: int) -> Table:
    """Read the columns a model needs for prediction.

    With ``feature_names`` None (a model fitted on unnamed arrays) the file must have
    exactly ``n_features`` columns, used in order.
    """
    path = os.fspath(path)
    table = _read_arrow(path)
    available = table.column_names
    if feature_names is None:
        if len(available) != n_features:
            raise DataError(
                f"{path}: the model takes {n_features} unnamed features but the file "
                f"has {len(available)} columns"
            )
        feature_names = available
    else:
        _check_columns(path, available, feature_names, "feature")
    return Table(
        X=_as_matrix(path, table, feature_names),
        y=None,
        feature_names=list(feature_names),
        target_names=[],
    )
