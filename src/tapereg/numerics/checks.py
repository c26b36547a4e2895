"""Finite values and the training dtype: one DataError naming the column and the row.

NumPy only; a sum per chunk finds the common case (all finite) without a boolean
copy of the data.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .arrays import chunks


def first_non_finite(A: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first NaN or ±inf in a 2-D array, or None.

    Only a chunk whose sum is not finite is searched (the sum may also overflow).
    """
    for rows in chunks(A.shape[0], A.shape[1]):
        with np.errstate(over="ignore", invalid="ignore"):
            total = A[rows].sum(dtype=np.float64)
        if np.isfinite(total):
            continue
        bad = np.argwhere(~np.isfinite(A[rows]))
        if bad.size:
            return int(bad[0][0]) + rows.start, int(bad[0][1])
    return None


def _label(columns, column: int):
    return columns[column] if columns is not None else column


def check_finite(A: np.ndarray, name: str, columns=None, first_row: int = 0) -> None:
    """Refuse NaN or ±inf in ``A`` with a DataError naming the column and the row."""
    if not A.size:  # no rows (an empty block): nothing to refuse
        return
    A2 = A.reshape(A.shape[0], -1)
    found = first_non_finite(A2)
    if found is not None:
        row, column = found
        value = A2[row, column]
        what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        raise DataError(
            f"{name} column {_label(columns, column)!r}, row {first_row + row}: "
            f"{what} (every value must be a finite number)"
        )


def check_fits_dtype(
    cast: np.ndarray,
    original: np.ndarray,
    name: str,
    columns=None,
    *,
    first_row: int = 0,
    standardized: bool,
) -> None:
    """Refuse a value that became ±inf when cast to the (float32) training dtype."""
    if cast.dtype == np.float64:
        return
    cast2 = cast.reshape(cast.shape[0], -1)
    found = first_non_finite(cast2)
    if found is not None:
        row, column = found
        value = original.reshape(original.shape[0], -1)[row, column]
        hint = "" if standardized else ", or standardize the features"
        raise DataError(
            f"{name} column {_label(columns, column)!r}, row {first_row + row}: "
            f"{value:.6g} overflows {cast.dtype}, the training dtype; use "
            f"dtype='float64' (--dtype float64){hint}"
        )


# Values beyond this square to more than float64 holds (√1.8e308).
LARGEST_SQUARABLE = float(np.sqrt(np.finfo(np.float64).max))


def check_second_moments(spread, columns) -> None:
    """Refuse columns whose second moments overflowed float64 (non-finite spread:
    variances or scales), naming the first; ``columns`` names X's then Y's."""
    bad = np.flatnonzero(~np.isfinite(np.asarray(spread, np.float64)))
    if bad.size:
        raise DataError(
            f"column {columns[bad[0]]!r} has values beyond {LARGEST_SQUARABLE:.2g}, "
            "whose squares overflow float64, so the moments training needs cannot "
            "be formed; rescale the column (or use solver='exact' on data in memory)"
        )
