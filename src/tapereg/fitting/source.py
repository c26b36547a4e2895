"""The input of a fit as a source: names, sizes, moments and blocks of rows.

Arrays in memory (:class:`ArraySource`) and a re-iterable of blocks
(:class:`BlockSource`, for data bigger than memory) give the same small interface,
so the solver does not ask which it has, except where holding every row in memory
lets it skip a pass (``arrays``). Every block a :class:`BlockSource` yields is
checked: 2-D X, Y as a column when 1-D, the same widths as the first block, a
weight per row, finite values; a bad block is one DataError naming it.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..numerics.arrays import row_blocks
from ..numerics.checks import check_finite, check_second_moments
from ..numerics.linear import feature_names, target_names
from ..numerics.moments import (
    Moments,
    MomentsAccumulator,
    data_moments,
    merged_moments,
    pooled_moments,
)


class ArraySource:
    """Validated rows in memory: X (n, d), Y (n, t) and the weights (or None)."""

    def __init__(
        self,
        X,
        Y,
        sample_weight=None,
        *,
        feature_names=None,
        target_names=None,
        groups=None,
    ):
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.feature_names, self.target_names = feature_names, target_names
        self.n_rows, self.n_features = X.shape
        self.n_targets = Y.shape[1]
        self.weighted = sample_weight is not None
        self.groups = groups
        self.grouped = groups is not None

    def group_blocks(self):
        """The rows with their cluster labels: ``(X, Y, sample_weight, groups)``."""
        yield self.X, self.Y, self.sample_weight, self.groups

    @property
    def arrays(self):
        """(X, Y, sample_weight): every row at once."""
        return self.X, self.Y, self.sample_weight

    def blocks(self):
        """The rows as ``(X, Y, sample_weight)`` chunks (the weight None without)."""
        return row_blocks(self.X, self.Y, self.sample_weight)

    def local_moments(self) -> Moments | None:
        return data_moments(*self.arrays) if self.n_rows else None

    def no_rows_error(self) -> DataError:
        return DataError("X has no rows")


class BlockSource:
    """A re-iterable of ``(X, Y)`` or ``(X, Y, sample_weight)`` blocks, checked.

    Names come from the stream's ``feature_names`` and ``target_names`` when it
    has them; sizes from the names, else from the first block.
    """

    arrays = None

    def __init__(self, stream):
        self.stream = stream
        self.feature_names = _names(getattr(stream, "feature_names", None))
        self.target_names = _names(getattr(stream, "target_names", None))
        self.n_features = (
            None if self.feature_names is None else len(self.feature_names)
        )
        self.n_targets = None if self.target_names is None else len(self.target_names)
        self.n_rows = None  # known after the first pass
        self.weighted = None
        self.grouped = None

    def blocks(self):
        """Each block as float64 ``(X, Y, sample_weight)``, checked."""
        for X, Y, weights, _ in self.group_blocks():
            yield X, Y, weights

    def group_blocks(self):
        """Each block as ``(X, Y, sample_weight, groups)``, checked (the cluster
        labels None where the blocks have none)."""
        first_row = 0
        for number, block in enumerate(self.stream):
            X, Y, weights, groups = self._checked(number, block, first_row)
            first_row += X.shape[0]
            yield X, Y, weights, groups
        self.n_rows = first_row

    def _checked(self, number: int, block, first_row: int):
        if len(block) not in (2, 3, 4):
            raise DataError(
                f"block {number} has {len(block)} arrays; a block is (X, y), "
                "(X, y, sample_weight) or (X, y, sample_weight, groups)"
            )
        X = np.asarray(block[0], np.float64)
        Y = np.asarray(block[1], np.float64)
        weights = None if len(block) < 3 or block[2] is None else block[2]
        weights = None if weights is None else np.asarray(weights, np.float64)
        where = f"block {number} (rows {first_row}..)"
        groups = None if len(block) < 4 or block[3] is None else block[3]
        groups = None if groups is None else check_groups(groups, X.shape[0], where)
        self.grouped = _same(self.grouped, groups is not None, where, "", "groups")
        if X.ndim != 2:
            raise DataError(f"{where}: X has shape {X.shape}; it must be 2-D")
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise DataError(f"{where}: y has shape {Y.shape}; it must be 1-D or 2-D")
        self.n_features = _same(self.n_features, X.shape[1], where, "X", "columns")
        self.n_targets = _same(self.n_targets, Y.shape[1], where, "y", "columns")
        self.weighted = _same(self.weighted, weights is not None, where, "", "")
        for name, values in (("y", Y), ("sample_weight", weights)):
            if values is not None and values.shape[0] != X.shape[0]:
                raise DataError(
                    f"{where}: {name} has {values.shape[0]} rows where X has "
                    f"{X.shape[0]}"
                )
        if weights is not None and weights.ndim != 1:
            raise DataError(
                f"{where}: sample_weight has shape {weights.shape}; it must be 1-D"
            )
        for name, values, columns in (
            ("X", X, self.feature_names),
            ("y", Y, self.target_names),
            ("sample_weight", weights, None),
        ):
            if values is not None:
                check_finite(values, name, columns, first_row=first_row)
        return X, Y, weights, groups

    def local_moments(self) -> Moments | None:
        """The first pass: float64 moments of this source's rows (None: no rows)."""
        moments = MomentsAccumulator()
        for block in self.blocks():
            moments.add(*block)
        return moments.result() if moments.n_samples else None

    def no_rows_error(self) -> DataError:
        no_rows = getattr(self.stream, "no_rows_error", None)
        return no_rows() if no_rows else DataError("the stream has no rows")


class MomentsSource:
    """Rows known only by their moments (``partial_fit``: every call's rows,
    merged): the gram engine and the OLS statistics need nothing more; what
    needs the rows themselves (the data engine, the residual pass) is refused
    or skipped."""

    arrays = None
    has_rows = False
    grouped = False
    weighted = None

    def __init__(self, moments: Moments, *, feature_names=None, target_names=None):
        self.moments = moments
        self.feature_names, self.target_names = feature_names, target_names
        self.n_features = moments.n_features
        self.n_targets = len(moments.mean) - moments.n_features
        self.n_rows = moments.n_samples

    def local_moments(self) -> Moments:
        return self.moments

    def blocks(self):
        return iter(())

    def group_blocks(self):
        return iter(())

    def no_rows_error(self) -> DataError:
        return DataError("partial_fit has seen no rows")


def moments_of(source, reducer) -> Moments:
    """The float64 moments of every worker's rows: this source's first pass, pooled
    by the reducer (two sums across workers; in one process, these rows')."""
    local = source.local_moments()
    if local is None and (source.n_features is None or source.n_targets is None):
        raise source.no_rows_error()  # no sizes to pool with
    moments = pooled_moments(
        local, source.n_features + source.n_targets, source.n_features, reducer.sum
    )
    if moments.n_samples == 0:
        if reducer.count > 1:
            raise DataError("no worker has any rows")
        raise source.no_rows_error()
    check_second_moments(np.diag(moments.covariance), column_names(source))
    return moments


def added_moments(before: Moments | None, rows, reducer) -> Moments:
    """``partial_fit``'s moments: every worker's new rows pooled (each counted
    once), then merged with those of the rows before (which every worker holds
    alike, so they are not pooled)."""
    new = moments_of(rows, reducer)
    if before is None:
        return new
    if new.n_features != before.n_features:
        raise DataError(
            f"X has {new.n_features} features; the rows before had {before.n_features}"
        )
    if len(new.mean) != len(before.mean):
        raise DataError(
            f"y has {len(new.mean) - new.n_features} columns; the rows before had "
            f"{len(before.mean) - before.n_features}"
        )
    return merged_moments(before, new)


def column_names(source) -> list[str]:
    """The names of X's columns, then Y's (``x0``, ``y`` and so on where unnamed)."""
    return [
        *feature_names(source.feature_names, source.n_features),
        *target_names(source.target_names, source.n_targets),
    ]


def _names(names) -> list[str] | None:
    return None if names is None else [str(n) for n in names]


def check_groups(groups, n_rows: int, where: str) -> np.ndarray:
    """Cluster labels, one per row, none missing (any hashable values)."""
    import pandas as pd

    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise DataError(
            f"{where}: groups has shape {labels.shape}; it must give one label per "
            f"row ({n_rows})"
        )
    missing = pd.isna(labels)
    if missing.any():
        raise DataError(
            f"{where}: groups has a missing label at row {int(np.argmax(missing))}"
        )
    return labels


def _same(known, seen, where: str, name: str, what: str):
    """``seen``, refusing a value that differs from the ``known`` one."""
    if known is None or known == seen:
        return seen
    if not name:
        array = what or "sample_weight"
        raise DataError(
            f"{where}: {array} is {'present' if seen else 'missing'}, unlike "
            f"the first block's; give every block {what or 'weights'}, or none"
        )
    raise DataError(
        f"{where}: {name} has {seen} {what}, not {known} as the first block (or the "
        "stream's names)"
    )
