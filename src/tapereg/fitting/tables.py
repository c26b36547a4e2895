"""Fit a table read from files, as the command line does: one call, every path.

:func:`fit_table` takes this worker's shard of the files, fits in memory or
streamed (files over an eighth of memory, ``--stream``, or a worker of a cluster),
and returns what the report needs: the exact optimum to compare with, and for a
streamed fit the metrics of one more pass and a uniform sample of rows for the
plot (every worker's, across workers). A stream with a column of cluster labels
gives them to the fit, in memory and streamed alike. The command line formats and
writes.

A table read as it is (:class:`~tapereg.io.frames.FrameStream`: a formula, text
columns, ``missing="drop"``) is fitted as ``fit(data)`` or ``fit(X, y)`` with
DataFrames in memory, and by ``fit_stream`` over raw DataFrame blocks streamed;
the report gets the design the model's encoding made of the rows. A numeric table
is read as it is instead when it holds text and the estimator one-hot encodes
text (``categorical="auto"``).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import ClusterError, DataError
from ..numerics.exact import solve_from_moments, solve_least_squares
from ..numerics.metrics import regression_metrics_stream
from ..numerics.moments import MAX_SAVED_MOMENT_COLUMNS, data_moments
from ..parallel.reducers import reducer_for
from ..runtime.notes import factoring_flops, note_if_long
from ..runtime.progress import EpochProgress

# Across workers, the plot's sample is gathered from all of them: at most this much.
SAMPLE_GATHER_BYTES = 32 << 20
SAMPLE_ROWS = 20_000


@dataclass(frozen=True)
class Sample:
    """Rows of a table: X (n, d) and y (n, t)."""

    X: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class TableFit:
    """A fitted estimator and what the report of its fit needs.

    ``table`` holds every row when the fit ran in memory (None: streamed);
    ``reference`` is the exact (coef (d, t), intercept (t,)) of the same problem
    (ridge in closed form; with an L1 part, unpenalized), None when not wanted;
    ``metrics`` are those of the model and the reference on every row of a
    streamed fit, each metric an array over targets (None in memory); ``sample``
    rows for a plot; ``chief`` whether this worker prints and writes;
    ``feature_names`` and ``target_names`` those of the model's columns (with an
    encoding, the design's: ``C(firm)[T.IBM]``), as ``table`` holds them.
    """

    estimator: object
    table: object
    reference: tuple[np.ndarray, np.ndarray] | None
    metrics: list[dict] | None
    sample: object
    chief: bool
    seconds: float
    warnings: list
    feature_names: list[str]
    target_names: list[str]
    # What the reference solves ("least squares", "quantile regression (HiGHS)").
    reference_problem: str | None = None


def in_memory_budget() -> int:
    """Files whose columns would take more than this (bytes) are streamed.

    An eighth of physical memory leaves room for the float64 copy, the training
    copy and TensorFlow itself.
    """
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8
    except (ValueError, OSError):
        return 2 << 30


def fit_table(
    estimator,
    stream,
    *,
    stream_rows=False,
    progress=False,
    want_sample=False,
    want_reference=True,
    check_terms=None,
    add_rows=False,
    keep_moments=False,
) -> TableFit:
    """Fit ``estimator`` on a table stream (``tapereg.open_table``'s, or
    ``open_frames``' for a table read as it is).

    ``add_rows``: ``partial_fit`` the fitted estimator on the table's rows (a
    numeric table; streamed, ``partial_fit_stream``) instead of fitting it; the
    reference is then the optimum of every row it has seen, from its moments.
    ``keep_moments``: a fit in memory of a numeric table keeps the float64
    moments of its rows (``moments_``, which a saved model keeps for
    ``partial_fit``), as a streamed fit does.

    Across workers (the estimator's ``strategy``) each reads its shard of the
    files; the others than the chief keep no logs and no checkpoints (a resumed
    fit starts every worker from the chief's state). ``progress``: the chief shows
    a progress bar (rows/s where every epoch streams the rows). Warnings are
    recorded, not shown. ``check_terms(names)``, where the model's column names
    are known before the fit (numeric tables), is called with them first.
    """
    try:
        reducer = reducer_for(estimator.strategy)
        return _fit_table(
            estimator,
            stream,
            reducer,
            stream_rows,
            progress,
            want_sample,
            want_reference,
            check_terms,
            add_rows,
            keep_moments,
        )
    except Exception as error:
        if estimator.strategy != "multi-worker":
            raise
        import tensorflow as tf

        if isinstance(error, tf.errors.OpError):
            # A dead or unreachable worker: TensorFlow's collectives and heartbeats
            # say so with an OpError; one line, not its traceback.
            text = str(error).strip()
            reason = text.splitlines()[0][:300] if text else ""
            raise ClusterError(
                f"the cluster failed ({type(error).__name__}): {reason}"
            ) from None
        raise


def _fit_table(
    estimator,
    stream,
    reducer,
    stream_rows,
    progress,
    want_sample,
    want_reference,
    check_terms,
    add_rows=False,
    keep_moments=False,
):
    # A worker of a cluster streams its shard; one machine's devices (mirrored)
    # share its memory, so they read it whole when it fits.
    streamed = (
        stream_rows
        or reducer.count > 1
        or stream.estimated_bytes() > in_memory_budget()
    )
    if streamed and not add_rows:
        stream = _as_read_for_streaming(estimator, stream)
    stream = stream.for_worker(reducer.index, reducer.count)
    chief = reducer.index == 0
    if not chief:
        estimator.set_params(logdir=None, checkpoint_dir=None, resume=False)
    table = frame = None
    if not streamed:
        stream, table, frame = _read(estimator, stream, numbers_only=add_rows)
    if check_terms is not None and not _reads_frames(stream):
        check_terms(list(stream.feature_names))
    rows_per_epoch = None
    if table is not None or frame is not None:
        n_rows, width = (
            table.X.shape if frame is None else (len(frame), len(stream.feature_names))
        )
        if estimator.solver == "gd" and _data_engine(estimator, width):
            rows_per_epoch = n_rows  # a gram epoch costs O(d²), not the rows
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callback = None
        if progress and chief and not add_rows:
            callback = EpochProgress(estimator.max_iter, n_rows=rows_per_epoch)
        with callback if callback is not None else contextlib.nullcontext():
            if add_rows:
                _add_rows(estimator, stream, table)
            elif frame is not None:
                X, y, groups = _fit_arguments(stream, frame)
                estimator.fit(X, y, groups=groups, epoch_callback=callback)
            elif table is None:
                _fit_stream(estimator, stream, callback)
            else:
                estimator.fit(
                    *_as_frames(table), groups=table.groups, epoch_callback=callback
                )
    seconds = time.perf_counter() - started
    if keep_moments and table is not None and frame is None:
        _keep_moments(estimator, table)
    if frame is not None:
        table = _design_table(estimator, stream, frame)
        del frame
    reference = problem = None
    if want_reference:  # of every row the moments hold, where rows were added
        reference, problem = _exact_reference(estimator, None if add_rows else table)
    metrics = sample = None
    if table is None:
        coef = np.atleast_2d(estimator.coef_).T
        intercept = np.atleast_1d(estimator.intercept_)
        models = [(coef, intercept)] + ([] if reference is None else [reference])
        if _reads_frames(stream):
            stream = DesignBlocks(estimator, stream)
        metrics, sample = streamed_metrics(
            stream,
            models,
            want_sample=want_sample,
            shift=estimator.moments_.mean[coef.shape[0] :],
            reducer=reducer,
            row_loss=row_loss_of(estimator),
        )
    elif want_sample:
        sample = Sample(table.X, table.y)
    names = stream if table is None else table
    return TableFit(
        estimator,
        table,
        reference,
        metrics,
        sample,
        chief,
        seconds,
        list(caught),
        list(names.feature_names),
        list(names.target_names),
        problem,
    )


def _keep_moments(estimator, table) -> None:
    """The float64 moments of the rows fitted in memory, which ``fit`` does not
    keep, where a model file keeps them (not too wide): ``partial_fit`` of a
    loaded model goes on from them."""
    n_rows, width = table.X.shape[0], table.X.shape[1] + table.y.shape[1]
    if width > MAX_SAVED_MOMENT_COLUMNS:
        return
    note_if_long(
        n_rows * width**2,
        f"computing the moments of the {n_rows:,} x {width:,} rows, which the model "
        "file keeps for tapereg update",
    )
    estimator.moments_ = data_moments(table.X, table.y)


def _reads_frames(stream) -> bool:
    from ..io.frames import FrameStream

    return isinstance(stream, FrameStream)


def _as_read_for_streaming(estimator, stream):
    """The stream to stream: a numeric one whose first rows show text columns
    is read as it is when the estimator encodes text. Decided before the
    shards are dealt, on the first file's first block, so every worker decides
    alike."""
    from ..io.frames import first_text_columns, frames_of

    if _reads_frames(stream) or estimator.categorical != "auto":
        return stream
    if first_text_columns(stream):
        return frames_of(stream, allow_missing=estimator.missing == "drop")
    return stream


def _read(estimator, stream, numbers_only=False):
    """``(stream, table, frame)``: the rows read whole, as numbers (``table``)
    or as they are (``frame``, with the stream that read them). A numeric
    table that holds text is read again as it is when the estimator encodes
    text (and not ``numbers_only``)."""
    from ..io.frames import frames_of
    from ..io.readers import TextColumnError

    if _reads_frames(stream):
        return stream, None, stream.read()
    try:
        return stream, stream.read(), None
    except TextColumnError:
        if estimator.categorical != "auto" or numbers_only:
            raise
    stream = frames_of(stream, allow_missing=estimator.missing == "drop")
    return stream, None, stream.read()


def _add_rows(estimator, stream, table) -> None:
    """``partial_fit`` on the rows read (named, so the model checks the
    columns), or ``partial_fit_stream`` on the stream (no progress bar: the
    gram engine's epochs take milliseconds)."""
    if table is not None:
        estimator.partial_fit(*_as_frames(table))
    else:
        estimator.partial_fit_stream(stream)


def _fit_stream(estimator, stream, callback) -> None:
    """``fit_stream`` on the stream (raw DataFrame blocks for a table read as
    it is). Text met in a numeric stream after the first rows (which decided
    to read numbers) is refused in words that say so."""
    from ..io.readers import TextColumnError

    if _reads_frames(stream):
        estimator.fit_stream(RawBlocks(stream), epoch_callback=callback)
        return
    try:
        estimator.fit_stream(stream, epoch_callback=callback)
    except TextColumnError as error:
        if estimator.categorical != "auto":
            raise
        raise DataError(
            f"{error}; a streamed fit reads as numbers the columns that the first "
            f"rows of {stream.files[0]} show as numbers: write the column as "
            "C(column) in a formula to encode it, or fit in memory"
        ) from None


def _fit_arguments(stream, frame):
    """``(X, y, groups)`` for ``fit``: with a formula the table itself and no
    y, else the features and the target(s); the cluster labels beside."""
    groups = None if stream.groups_column is None else frame[stream.groups_column]
    if stream.formula is not None:
        return frame, None, groups
    targets = stream.target_names
    y = frame[targets[0]] if len(targets) == 1 else frame[targets]
    return frame[stream.feature_names], y, groups


class RawBlocks:
    """A :class:`~tapereg.io.frames.FrameStream`'s blocks as ``fit_stream`` takes
    raw tables: with a formula the table itself (``(table, None, None, labels)``
    with cluster labels), else ``(X, y, None, labels)``, DataFrames both."""

    def __init__(self, stream):
        self.stream = stream
        self.feature_names = stream.feature_names
        self.target_names = stream.target_names

    def __iter__(self):
        for frame in self.stream:
            X, y, groups = _fit_arguments(self.stream, frame)
            if y is None and groups is None:
                yield X
            else:
                yield X, y, None, groups

    def no_rows_error(self) -> DataError:
        return self.stream.no_rows_error()


class DesignBlocks:
    """A FrameStream's blocks as the fitted model's numbers, ``(X, Y)`` float64
    (:func:`design_of`), for the streamed report's pass; named as the model
    names its columns."""

    def __init__(self, estimator, stream):
        self.estimator, self.stream = estimator, stream
        self.feature_names, self.target_names = _model_names(estimator, stream)

    def __iter__(self):
        for frame in self.stream:
            X, Y, _ = design_of(self.estimator, self.stream, frame)
            if X.shape[0]:
                yield X, Y


def design_of(estimator, stream, frame):
    """``(X, Y, groups)``: the rows the fit used as the model's numbers (the
    fitted encoding applied; the rows with a missing cell left out, as
    ``missing="drop"`` left them out), X (n, d) and Y (n, t) float64."""
    from ..design.encoding import encode, encode_targets

    complete = frame.notna().all(axis=1).to_numpy()
    if not complete.all():
        frame = frame[complete]
    encoding = getattr(estimator, "encoding_", None)
    if encoding is None:
        X = frame[stream.feature_names].to_numpy(np.float64)
    else:
        X = encode(encoding, frame)
    if stream.formula is not None:
        Y = encode_targets(encoding, frame)
    else:
        Y = frame[stream.target_names].to_numpy(np.float64)
    groups = None
    if stream.groups_column is not None:
        groups = frame[stream.groups_column].to_numpy()
    return X, Y, groups


def _model_names(estimator, stream) -> tuple[list[str], list[str]]:
    """The fitted model's feature and target names (the stream's where it has
    none)."""
    names = getattr(estimator, "feature_names_in_", stream.feature_names)
    targets = getattr(estimator, "target_names_", stream.target_names)
    return [str(n) for n in names], [str(t) for t in targets]


def _design_table(estimator, stream, frame):
    """The in-memory fit's rows as a Table of the design (:func:`design_of`)."""
    from ..io.readers import Table

    X, Y, groups = design_of(estimator, stream, frame)
    return Table(X, Y, *_model_names(estimator, stream), groups)


def _data_engine(estimator, n_features: int) -> bool:
    from .plan import resolve_engine

    engine = resolve_engine(
        estimator.engine,
        estimator.batch_size,
        n_features,
        estimator.loss,
    )
    return engine == "data"


def _as_frames(table):
    """(X, y) as pandas objects, so the estimator learns the column names."""
    import pandas as pd

    X = pd.DataFrame(table.X, columns=table.feature_names, copy=False)
    if table.y.shape[1] == 1:
        return X, pd.Series(table.y[:, 0], name=table.target_names[0])
    return X, pd.DataFrame(table.y, columns=table.target_names, copy=False)


def row_loss_of(estimator):
    """The estimator's loss per row for the metrics (None: the squared error,
    which they hold already)."""
    if estimator.loss == "squared_error":
        return None
    from ..numerics.losses import row_loss

    return row_loss(
        estimator.loss, epsilon=estimator.epsilon, quantile=estimator.quantile
    )


def _exact_reference(estimator, table):
    """((coef, intercept), what it solves) of the exact optimum the report
    compares training with; least squares where the loss's is not known."""
    problem = None
    if estimator.loss != "squared_error" and table is not None:
        reference = _loss_optimum(estimator, table)
        if reference is not None:
            method = "HiGHS" if estimator.loss != "huber" else "L-BFGS-B"
            return reference, f"{estimator.loss} ({method})"
    if estimator.loss != "squared_error":
        problem = "least squares (no exact optimum of this loss here)"
    return _least_squares_reference(estimator, table), problem


def _loss_optimum(estimator, table):
    """The exact optimum of a loss other than the squared error, in memory."""
    from ..numerics.losses import exact_optimum

    note_if_long(
        factoring_flops(*table.X.shape),
        f"computing the exact optimum of loss={estimator.loss!r} for the report "
        "(--no-reference skips it)",
    )
    return exact_optimum(
        estimator.loss,
        table.X,
        table.y,
        epsilon=estimator.epsilon,
        quantile=estimator.quantile,
        alpha=estimator.alpha,
        l1_ratio=estimator.l1_ratio,
        fit_intercept=_has_intercept(estimator),
    )


def _least_squares_reference(estimator, table):
    """(coef, intercept) of the exact least-squares optimum.

    The exact solver's own answer when that is what ran, or the solution the fit
    computed anyway (``exact_solution_``). In memory, a QR solve; for
    streamed files the moments the fit already took (no further pass). With an L1
    part, the unpenalized least-squares optimum.
    """
    params = estimator._fit_params()  # a LinearRegressorCV's: the chosen penalty
    alpha = params["alpha"]
    if params["solver"] == "exact":
        return np.atleast_2d(estimator.coef_).T, np.atleast_1d(estimator.intercept_)
    if params["positive"] and alpha == 0:
        return _nonnegative_reference(estimator, table)
    shared = getattr(estimator, "exact_solution_", None)
    if shared is not None and alpha == 0:
        return shared.coef, shared.intercept  # the fit factored the rows already
    ridge_alpha = alpha if params["l1_ratio"] == 0 else 0.0
    if table is None:
        return solve_from_moments(
            estimator.moments_,
            fit_intercept=_has_intercept(estimator),
            alpha=ridge_alpha,
        )
    note_if_long(
        factoring_flops(*table.X.shape),
        f"computing the exact optimum for the report: a QR and an SVD of the "
        f"{table.X.shape[0]:,} x {table.X.shape[1]:,} rows (--no-reference skips it)",
    )
    exact = solve_least_squares(
        table.X, table.y, fit_intercept=_has_intercept(estimator), alpha=ridge_alpha
    )
    return exact.coef, exact.intercept


def _nonnegative_reference(estimator, table):
    """The exact non-negative least-squares optimum (``positive=True``): NNLS
    from the factor of the rows in memory, from the moments when streamed."""
    from ..numerics.nonnegative import nonnegative_from_moments, nonnegative_solution

    fit_intercept = _has_intercept(estimator)
    if table is None:
        return nonnegative_from_moments(estimator.moments_, fit_intercept)
    shared = getattr(estimator, "exact_solution_", None)
    if shared is None:
        shared = solve_least_squares(table.X, table.y, fit_intercept=fit_intercept)
    return nonnegative_solution(shared, fit_intercept)


def _has_intercept(estimator) -> bool:
    """Whether the model has an intercept: a formula says (``- 1``), else
    ``fit_intercept``."""
    encoding = getattr(estimator, "encoding_", None)
    if encoding is not None and encoding.formula is not None:
        return encoding.intercept
    return estimator.fit_intercept


def streamed_metrics(
    stream,
    models,
    *,
    want_sample: bool,
    shift=None,
    reducer,
    sample_rows=SAMPLE_ROWS,
    row_loss=None,
):
    """Metrics of each model, per target, in one more pass; with ``want_sample``,
    a uniform random sample of rows (seeded) for the plot, kept while passing.
    Across workers the metrics are of all rows (``shift`` as for
    ``regression_metrics_stream``), and so is the sample: every worker's own is
    gathered and the smallest keys of all kept."""
    d, t = len(stream.feature_names), len(stream.target_names)
    # Every worker sends its sample: keep the gather within SAMPLE_GATHER_BYTES.
    per_worker = SAMPLE_GATHER_BYTES // (8 * (1 + d + t) * reducer.count)
    sample_rows = max(1, min(sample_rows, per_worker))
    rng = np.random.default_rng((0, reducer.index))
    kept = np.empty((0, 1 + d + t))

    def passing():
        nonlocal kept
        for X, Y, *_ in stream:  # cluster labels, if any, are not needed here
            if want_sample:
                # The rows with the smallest random keys are a uniform sample.
                rows = np.column_stack([rng.random(X.shape[0]), X, Y])
                kept = np.concatenate([kept, rows])
                if kept.shape[0] > 2 * sample_rows:
                    kept = kept[np.argsort(kept[:, 0])[:sample_rows]]
            yield X, Y

    metrics = regression_metrics_stream(
        passing(),
        models,
        shift=shift,
        sum_across=reducer.sum,
        multioutput="raw_values",
        row_loss=row_loss,
    )
    if not want_sample:
        return metrics, None
    rows = kept[np.argsort(kept[:, 0])[:sample_rows]]
    # Missing rows (a small shard) carry the key inf, so they sort last.
    slots = np.full((sample_rows, rows.shape[1]), np.inf)
    slots[: rows.shape[0]] = rows
    rows = reducer.gather(slots).reshape(-1, rows.shape[1])
    rows = rows[np.isfinite(rows[:, 0])]
    rows = rows[np.argsort(rows[:, 0], kind="stable")[:sample_rows]]
    return metrics, Sample(rows[:, 1 : 1 + d], rows[:, 1 + d :])
