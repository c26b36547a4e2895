"""Reading training data from CSV (plain or gzip) and Parquet files into arrays.

pyarrow parses (multithreaded) and infers types; this module picks the columns and
turns every problem into a :class:`DataError` naming the file, the column and the row.
Rows are counted from 1, after the header, within each file.

Several files (a list, or glob patterns) are read one by one and their rows
concatenated in order. Each file's columns become float64 arrays before the
concatenation, so a column may be integer in one file and floating in another.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np

from .errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
GLOB_CHARACTERS = ("*", "?", "[")


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


# -- which files ---------------------------------------------------------------------


def _expand_paths(paths) -> list[str]:
    """The files named by one path, a list of paths or glob patterns, in order.

    A str holding ``*``, ``?`` or ``[`` that is not itself an existing file is a
    pattern: it stands for its matches, sorted, so the row order is reproducible.
    PathLike objects are always taken literally.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise DataError("no data files given")
    files: list[str] = []
    for item in items:
        path = os.fspath(item)
        if isinstance(item, str) and _is_pattern(path):
            files.extend(_glob(path))
        else:
            files.append(path)
    return files


def _is_pattern(path: str) -> bool:
    return any(c in path for c in GLOB_CHARACTERS) and not os.path.exists(path)


def _glob(pattern: str) -> list[str]:
    """The sorted matches of a pattern; ``**`` reaches into subfolders."""
    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        raise DataError(f"{pattern}: no file matches this pattern")
    return matches


def _names(value) -> list[str]:
    """A column name or a list of them, as a list."""
    return [value] if isinstance(value, str) else list(value)


# -- reading one file ----------------------------------------------------------------


def _is_parquet(path: str) -> bool:
    return path.lower().endswith(PARQUET_SUFFIXES)


def _check_is_file(path: str) -> None:
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")


def _cannot_read(path: str, error: Exception) -> DataError:
    """A DataError carrying the first line of pyarrow's (or the OS's) reason."""
    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    return DataError(f"{path}: cannot read it: {reason}")


def _csv_stream(path: str):
    """The file as a pyarrow input stream, gunzipped when it ends in .gz (any case).

    pyarrow's own detection only knows lower-case suffixes; other compressions it
    detects (``.bz2``, ``.zst``, ...) keep working as before.
    """
    import pyarrow as pa

    gzipped = path.lower().endswith(".gz")
    return pa.input_stream(path, compression="gzip" if gzipped else "detect")


def _column_names(path: str) -> list[str]:
    """The file's column names, read without reading all of its data.

    For Parquet that is the footer; for CSV the header and the first block. A UTF-8
    byte order mark and CRLF line endings are handled by pyarrow's CSV parser.
    """
    import pyarrow as pa

    _check_is_file(path)
    try:
        if _is_parquet(path):
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as parquet:
                return list(parquet.schema_arrow.names)
        import pyarrow.csv as pcsv

        with _csv_stream(path) as stream:
            names = list(pcsv.open_csv(stream).schema.names)
    except (pa.ArrowException, OSError) as error:
        raise _cannot_read(path, error) from error
    _check_header(path, names)
    return names


def _check_header(path: str, names: list[str]) -> None:
    """Refuse a CSV file whose first line is data: every "name" is a number.

    pyarrow would take that line as the header and silently drop a row of data.
    """
    if names and all(_is_number(name) for name in names):
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise DataError(
            f"{path}: seems to have no header row (the column names {shown} all "
            "parse as numbers); the first line must name the columns"
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_columns(path: str, names: list[str]):
    """Only the named columns of the file, as a pyarrow Table."""
    import pyarrow as pa

    try:
        if _is_parquet(path):
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as parquet:
                return parquet.read(columns=names)
        import pyarrow.csv as pcsv

        options = pcsv.ConvertOptions(include_columns=names)
        with _csv_stream(path) as stream:
            return pcsv.read_csv(stream, convert_options=options)
    except (pa.ArrowException, OSError) as error:
        raise _cannot_read(path, error) from error


# -- columns to numbers --------------------------------------------------------------


def _check_columns(
    path: str, available: list[str], wanted: list[str], role: str
) -> None:
    """Each wanted column must be in the header exactly once."""
    for name in wanted:
        if name not in available:
            raise DataError(
                f"{path}: no {role} column '{name}' (columns: {', '.join(available)})"
            )
        count = available.count(name)
        if count > 1:
            raise DataError(f"{path}: column '{name}' appears {count} times")


def _column_as_float(path: str, table, name: str) -> np.ndarray:
    """One column as float64, refusing missing, non-numeric and non-finite cells."""
    import pyarrow as pa

    column = table.column(name)
    where = f"{path}: column '{name}'"
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        _raise_first_bad_text(where, column.to_pylist())
    if column.null_count:
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        raise DataError(
            f"{where}, row {int(np.flatnonzero(nulls)[0]) + 1}: missing value"
        )
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
    ):
        raise DataError(f"{where} has type {kind}, not numbers")
    values = column.to_numpy().astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(
            f"{where}, row {bad[0] + 1}: {values[bad[0]]} is not a finite number"
        )
    return values


def _raise_first_bad_text(where: str, values: list) -> None:
    """Name the first cell of a text column that is missing or not a number."""
    for row, value in enumerate(values, start=1):
        if value is None:
            raise DataError(f"{where}, row {row}: missing value")
        try:
            float(value)
        except ValueError:
            raise DataError(f"{where}, row {row}: {value!r} is not a number") from None
    raise DataError(f"{where} holds text, not numbers")


def _as_matrix(path: str, table, names: list[str]) -> np.ndarray:
    if not names or table.num_rows == 0:
        return np.empty((table.num_rows, len(names)))
    return np.column_stack([_column_as_float(path, table, n) for n in names])


def _read_matrices(files: list[str], groups: list[list[str]]) -> list[np.ndarray]:
    """For each group of column names, its float64 matrix over all files' rows.

    Each file is read (its needed columns only) and converted on its own, so cell
    errors name that file and the row within it, and types may differ between files.
    """
    needed = list(dict.fromkeys(name for group in groups for name in group))
    parts: list[list[np.ndarray]] = [[] for _ in groups]
    for path in files:
        table = _read_columns(path, needed)
        for part, names in zip(parts, groups, strict=True):
            part.append(_as_matrix(path, table, names))
    return [np.concatenate(part) for part in parts]


def _no_rows_error(files: list[str]) -> DataError:
    if len(files) == 1:
        return DataError(f"{files[0]}: no data rows")
    return DataError(f"no data rows in any of the {len(files)} files ({files[0]}, ...)")


# -- public --------------------------------------------------------------------------


def read_table(paths, target, features=None) -> Table:
    """Read the target column(s) and feature columns of CSV or Parquet files.

    Parameters
    ----------
    paths : str, PathLike, or list of them
        ``.csv``, ``.csv.gz`` (gzip by suffix) or ``.parquet``/``.pq`` files, any
        case. A str with ``*``, ``?`` or ``[`` that is no existing file is a glob
        pattern. The rows of all files are concatenated in order.
    target : str or list of str
    features : str or list of str, optional
        Default: every column of the first file that is not a target.

    Returns
    -------
    Table
    """
    files = _expand_paths(paths)
    headers = [_column_names(path) for path in files]
    targets = _names(target)
    if features is None:
        features = [c for c in headers[0] if c not in targets]
    features = _names(features)
    if not features:
        raise DataError(f"{files[0]}: no feature columns besides the target")
    for path, available in zip(files, headers, strict=True):
        _check_columns(path, available, targets, "target")
        _check_columns(path, available, features, "feature")
    X, y = _read_matrices(files, [features, targets])
    if X.shape[0] == 0:
        raise _no_rows_error(files)
    return Table(X=X, y=y, feature_names=features, target_names=targets)


def read_features(paths, feature_names: list[str] | None, n_features: int) -> Table:
    """Read the columns a model needs for prediction from CSV or Parquet files.

    ``paths`` is as for :func:`read_table`. With ``feature_names`` None (a model
    fitted on unnamed arrays) every file must have exactly ``n_features`` columns,
    used in the first file's order; later files must have the same names, so that
    rows are never matched by position across differently ordered files.
    """
    files = _expand_paths(paths)
    headers = [_column_names(path) for path in files]
    if feature_names is None:
        for path, available in zip(files, headers, strict=True):
            if len(available) != n_features:
                raise DataError(
                    f"{path}: the model takes {n_features} unnamed features but the "
                    f"file has {len(available)} columns"
                )
        feature_names = headers[0]
    feature_names = list(feature_names)
    for path, available in zip(files, headers, strict=True):
        _check_columns(path, available, feature_names, "feature")
    (X,) = _read_matrices(files, [feature_names])
    return Table(X=X, y=None, feature_names=feature_names, target_names=[])
