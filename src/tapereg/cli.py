"""The ``tapereg`` command line: ``demo``, ``fit`` and ``predict``.

``main(argv) -> int`` parses, dispatches through ``COMMANDS`` and maps a user's mistake
to one stderr line and exit status 2. Only argparse is imported at start-up; NumPy,
scikit-learn and TensorFlow load inside the command that needs them, so ``--help`` is
instant.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import sys

from . import __version__
from .core.optimizers import OPTIMIZERS
from .errors import ClusterError, ParameterError, TaperegError

# Across workers, the plot's sample is gathered from all of them: at most this much.
SAMPLE_GATHER_BYTES = 32 << 20


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    BAD_INPUT = 2
    INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit status 2."""

    def error(self, message):
        self.exit(ExitStatus.BAD_INPUT, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _bounded(accepts, description: str):
    """An argparse type: a number that ``accepts`` (else 'must be <description>')."""

    def parse(text: str) -> float:
        value = _float(text)
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {description}, got {text}")
        return value

    return parse


_positive_float = _bounded(lambda v: 0 < v < float("inf"), "a number > 0")
_non_negative_float = _bounded(lambda v: 0 <= v < float("inf"), "a number >= 0")
_unit_interval = _bounded(lambda v: 0 <= v <= 1, "in [0, 1]")
_level = _bounded(lambda v: 0 < v < 1, "in (0, 1)")
_fraction = _bounded(lambda v: 0 <= v < 1, "in [0, 1)")


def _learning_rate(text: str):
    return "auto" if text == "auto" else _positive_float(text)


def _tolerance(text: str):
    return None if text.lower() == "none" else _fraction(text)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def _quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter kept off the terminal.

    TensorFlow logs (CUDA probing, CPU features) through absl before it reads
    ``TF_CPP_MIN_LOG_LEVEL``, so stderr's descriptor is pointed at /dev/null for the
    import itself. Setting ``TF_CPP_MIN_LOG_LEVEL`` yourself shows everything.
    """
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import tensorflow

        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _emit(report: dict, text: str, as_json: bool) -> None:
    print(json.dumps(report) if as_json else text)


def _warnings_to_stderr(caught) -> None:
    for warning in caught:
        print(f"tapereg: warning: {warning.message}", file=sys.stderr)


# -- demo ------------------------------------------------------------------------------


def run_demo_command(args) -> int:
    _quiet_tensorflow()
    from .demos import run_demo
    from .reports.report import build_report

    run = run_demo(
        args.tutorial,
        seed=args.seed,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
    )
    result, exact, tutorial = run.result, run.exact, run.tutorial
    X, Y = run.x[:, None], run.y[:, None]
    report = build_report(
        X,
        Y,
        coef=result.coef.astype(float),
        intercept=result.intercept.astype(float),
        exact_coef=exact.coef,
        exact_intercept=exact.intercept,
        loss_history=result.loss_history,
        n_iter=result.n_iter,
        optimizer="gd",
        learning_rate=result.learning_rate,
        seconds=run.seconds,
        feature_names=["x"],
        target_names=["y"],
    )
    report.update(tutorial=tutorial.name, seed=run.seed)
    weight, bias = float(result.coef[0, 0]), float(result.intercept[0])
    if tutorial.true_weight is not None:
        report["true"] = {
            "coef": [tutorial.true_weight],
            "intercept": tutorial.true_bias,
        }
    if args.plot:
        from .reports.plotting import plot_fit

        plot_fit(
            args.plot,
            X,
            Y,
            coef=result.coef,
            intercept=result.intercept,
            loss_history=result.loss_history,
            exact_coef=exact.coef,
            exact_intercept=exact.intercept,
            feature_names=["x"],
            target_name="y",
        )
    if args.json:
        _emit(report, "", True)
        return ExitStatus.SUCCESS

    print(tutorial.title)
    for epoch, loss in enumerate(result.loss_history):
        if tutorial.name == "line":
            print(f"Epoch count {epoch}: Loss value: {float(loss)}")
        else:
            print(f"Epoch {epoch:2d}: loss={float(loss):2.5f}")
    exact_w, exact_b = float(exact.coef[0, 0]), float(exact.intercept[0])
    print(f"weight: {weight:.7g}  (exact least squares {exact_w:.7g})")
    print(f"bias:   {bias:.7g}  (exact least squares {exact_b:.7g})")
    if tutorial.true_weight is not None:
        print(f"true:   W = {tutorial.true_weight}, b = {tutorial.true_bias}")
    if args.plot:
        print(f"plot written to {args.plot}")
    return ExitStatus.SUCCESS


# -- fit -------------------------------------------------------------------------------


def run_fit_command(args) -> int:
    if args.strategy != "multi-worker":
        return _fit(args)
    _quiet_tensorflow()
    import tensorflow as tf

    try:
        return _fit(args)
    except tf.errors.OpError as error:
        # A dead or unreachable worker: TensorFlow's collectives and heartbeats say
        # so with an OpError; one line, not its traceback.
        reason = str(error).strip().splitlines()[0][:300] if str(error) else ""
        raise ClusterError(
            f"the cluster failed ({type(error).__name__}): {reason}"
        ) from None


def _fit(args) -> int:
    import warnings

    from .io.readers import open_table

    if args.summary and args.alpha:
        raise ParameterError(
            "--summary is for ordinary least squares; drop --alpha to get it"
        )
    # Unstandardized float32 training takes the values as they are: they must fit.
    fits = "float32" if args.dtype == "float32" and not args.standardize else None
    stream = open_table(args.data, args.target, args.features, fits=fits)
    strategy, chief, across = None, True, None
    if args.strategy != "none":
        # Before any TensorFlow op: collectives are configured at start-up.
        _quiet_tensorflow()
        from .parallel.distributed import Across, resolve_strategy, shard_of

        strategy = resolve_strategy(args.strategy)
        across = Across(strategy)
        chief = across.index == 0
        stream = shard_of(stream, across.index, across.count)
    # A worker of a cluster streams its shard; one machine's devices (mirrored)
    # share its memory, so they read it whole when it fits, as without a strategy.
    streamed = (
        args.stream
        or args.strategy == "multi-worker"
        or stream.estimated_bytes() > _in_memory_budget()
    )
    table = None if streamed else stream.read()
    if args.solver == "gd":
        _quiet_tensorflow()
    import numpy as np

    from .estimator import LinearRegressor
    from .reports.report import (
        build_report,
        format_coefficients,
        format_statistics,
        format_summary,
        summary_to_json,
    )

    estimator = LinearRegressor(
        learning_rate=args.learning_rate,
        max_iter=args.epochs,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        fit_intercept=args.intercept,
        standardize=args.standardize,
        tol=args.tol,
        solver=args.solver,
        momentum=args.momentum,
        nesterov=args.nesterov,
        dtype=args.dtype,
        random_state=args.seed,
        alpha=args.alpha,
        l1_ratio=args.l1_ratio,
        engine=args.engine,
        logdir=args.logdir,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        strategy=strategy,
    )
    if not chief:
        # The chief alone logs and keeps checkpoints. A resumed fit continues from
        # the chief's checkpoint: on the data engine every worker starts from the
        # state the chief restored (an all-reduce); the gram engine's epochs need
        # no collectives, so the others train them again, to the same result.
        estimator.set_params(logdir=None, checkpoint_dir=None, resume=False)
    from .runtime.progress import EpochProgress

    # rows/s only where every epoch streams the rows; a gram epoch costs O(d²).
    n_features = len(stream.feature_names)
    streams_rows = (
        args.solver == "gd"
        and not args.quiet
        and table is not None
        and estimator._resolve_engine(n_features) == "data"
    )
    import time

    started = time.perf_counter()
    with (
        warnings.catch_warnings(record=True) as caught,
        EpochProgress(
            args.epochs, n_rows=table.X.shape[0] if streams_rows else None
        ) as progress,
    ):
        warnings.simplefilter("always")
        callback = None if args.quiet or not chief else progress
        if table is None:
            estimator.fit_stream(stream, epoch_callback=callback)
        else:
            estimator.fit(*_as_frames(table), epoch_callback=callback)
    seconds = time.perf_counter() - started
    if chief:
        _warnings_to_stderr(w for w in caught if issubclass(w.category, UserWarning))

    coef = np.atleast_2d(estimator.coef_).T
    intercept = np.atleast_1d(estimator.intercept_)
    # The exact answer to the same problem where there is one: ridge in closed form;
    # with an L1 part, the unpenalized least-squares optimum for reference.
    ridge_alpha = args.alpha if args.l1_ratio == 0 else 0.0
    reference = _exact_reference(args, estimator, table, stream, ridge_alpha)
    sample = table
    if table is None:
        metrics, sample = _streamed_metrics(
            stream,
            [(coef, intercept), reference],
            # Every worker samples its rows: the sample is gathered (a collective).
            want_sample=bool(args.plot),
            shift=None if across is None else estimator.moments_.mean[n_features:],
            across=across,
        )
    else:
        metrics = None
    rate = estimator.learning_rate_
    report = build_report(
        None if table is None else table.X,
        None if table is None else table.y,
        coef=coef,
        intercept=intercept,
        exact_coef=reference[0],
        exact_intercept=reference[1],
        loss_history=estimator.loss_curve_,
        n_iter=estimator.n_iter_,
        optimizer=estimator.optimizer_ if args.solver == "gd" else "exact",
        learning_rate=None if rate != rate else rate,
        seconds=seconds,
        feature_names=stream.feature_names,
        target_names=stream.target_names,
        metrics=metrics,
    )
    report["engine"] = estimator.engine_ if args.solver == "gd" else None
    report["streamed"] = table is None
    report["strategy"] = args.strategy
    if not chief:
        return ExitStatus.SUCCESS  # the other workers print and write nothing
    report["exact"]["problem"] = (
        "least squares"
        if not args.alpha
        else "ridge"
        if ridge_alpha
        else "least squares, unpenalized"
    )
    if hasattr(estimator, "statistics_"):
        report["summary"] = summary_to_json(estimator, args.level)
    if args.save:
        from .io.persistence import save

        save(estimator, args.save, metrics=report["metrics"])
    if args.plot:
        from .reports.plotting import plot_fit

        plot_fit(
            args.plot,
            sample.X,
            sample.y,
            coef=coef,
            intercept=intercept,
            loss_history=estimator.loss_curve_,
            exact_coef=reference[0],
            exact_intercept=reference[1],
            feature_names=stream.feature_names,
            target_name=stream.target_names[0],
        )
    text = f"{format_coefficients(report)}\n\n{format_summary(report)}"
    if args.summary:
        text += "\n\n" + format_statistics(estimator, args.level)
    if args.save:
        text += f"\nmodel written to {args.save}"
    if args.plot:
        text += f"\nplot written to {args.plot}"
    _emit(report, text, args.json)
    return ExitStatus.SUCCESS


def _in_memory_budget() -> int:
    """Files whose columns would take more than this (bytes) are streamed.

    An eighth of physical memory leaves room for the float64 copy, the training
    copy and TensorFlow itself.
    """
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8
    except (ValueError, OSError):
        return 2 << 30


def _as_frames(table):
    """(X, y) as pandas objects, so the estimator learns the column names."""
    import pandas as pd

    X = pd.DataFrame(table.X, columns=table.feature_names, copy=False)
    if table.y.shape[1] == 1:
        return X, pd.Series(table.y[:, 0], name=table.target_names[0])
    return X, pd.DataFrame(table.y, columns=table.target_names, copy=False)


def _exact_reference(args, estimator, table, stream, ridge_alpha):
    """(coef, intercept) of the exact optimum the report compares training with.

    The exact solver's own answer when that is what ran. In memory, a QR solve; for
    streamed files the moments the fit already took (no further pass).
    """
    import numpy as np

    if args.solver == "exact":
        return np.atleast_2d(estimator.coef_).T, np.atleast_1d(estimator.intercept_)
    if table is None:
        from .numerics.exact import solve_from_moments

        return solve_from_moments(
            estimator.moments_, fit_intercept=args.intercept, alpha=ridge_alpha
        )
    from .numerics.exact import solve_least_squares

    exact = solve_least_squares(
        table.X, table.y, fit_intercept=args.intercept, alpha=ridge_alpha
    )
    return exact.coef, exact.intercept


def _streamed_metrics(
    stream,
    models,
    *,
    want_sample: bool,
    sample_rows=20_000,
    shift=None,
    across=None,
):
    """Metrics of each model in one more pass; with ``want_sample``, a uniform
    random sample of rows (seeded) for the plot, kept while passing. Across
    workers (``across``, a :class:`~tapereg.distributed.Across`) the metrics are
    of all rows (``shift`` as for ``regression_metrics_stream``), and so is the
    sample: every worker's own is gathered and the smallest keys of all kept."""
    import numpy as np

    from .io.readers import Table
    from .numerics.metrics import regression_metrics_stream

    if across is not None:
        # Every worker sends its sample: keep the gather within SAMPLE_GATHER_BYTES.
        width = 1 + len(stream.feature_names) + len(stream.target_names)
        per_worker = SAMPLE_GATHER_BYTES // (8 * width * across.count)
        sample_rows = max(1, min(sample_rows, per_worker))
    rng = np.random.default_rng(0 if across is None else (0, across.index))
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def passing():
        for X, Y in stream:
            if want_sample:
                # The rows with the smallest random keys are a uniform sample.
                kept.append((rng.random(X.shape[0]), X, Y))
                keys = np.concatenate([k for k, _, _ in kept])
                if keys.size > 2 * sample_rows:
                    order = np.argsort(keys)[:sample_rows]
                    Xs = np.concatenate([x for _, x, _ in kept])[order]
                    Ys = np.concatenate([y for _, _, y in kept])[order]
                    kept[:] = [(keys[order], Xs, Ys)]
            yield X, Y

    metrics = regression_metrics_stream(
        passing(),
        models,
        shift=shift,
        sum_across=None if across is None else across.sum,
    )
    sample = None
    if want_sample:
        d = len(stream.feature_names)
        keys = np.concatenate([np.empty(0), *(k for k, _, _ in kept)])
        rows = np.column_stack(
            [
                keys,
                np.concatenate([np.empty((0, d)), *(x for _, x, _ in kept)]),
                np.concatenate(
                    [np.empty((0, len(stream.target_names))), *(y for _, _, y in kept)]
                ),
            ]
        )[np.argsort(keys)[:sample_rows]]
        if across is not None:
            # Missing rows (a small shard) carry the key inf, so they sort last.
            slots = np.full((sample_rows, rows.shape[1]), np.inf)
            slots[: rows.shape[0]] = rows
            rows = across.gather(slots).reshape(-1, rows.shape[1])
            rows = rows[np.isfinite(rows[:, 0])]
            rows = rows[np.argsort(rows[:, 0], kind="stable")[:sample_rows]]
        sample = Table(
            X=rows[:, 1 : 1 + d],
            y=rows[:, 1 + d :],
            feature_names=stream.feature_names,
            target_names=stream.target_names,
        )
    return metrics, sample


# -- predict ---------------------------------------------------------------------------


def run_predict_command(args) -> int:
    """Predictions a block of rows at a time: files of any size, flat memory."""
    from .io.persistence import load
    from .io.readers import open_features

    estimator = load(args.model)
    names = getattr(estimator, "feature_names_in_", None)
    stream = open_features(
        args.data, None if names is None else list(names), estimator.n_features_in_
    )
    import contextlib

    import numpy as np
    import pandas as pd

    coef = np.atleast_2d(estimator.coef_).T
    columns = [str(t) for t in estimator.target_names_]
    with contextlib.ExitStack() as stack:
        if args.out:
            from .runtime.atomic import atomic_write

            file = stack.enter_context(
                atomic_write(args.out, "w", encoding="utf-8", newline="")
            )
        else:
            file = sys.stdout
        pd.DataFrame(columns=columns).to_csv(file, index=False)
        for X, _ in stream:
            predictions = X @ coef + estimator.intercept_
            frame = pd.DataFrame(predictions.reshape(X.shape[0], -1), columns=columns)
            frame.to_csv(file, index=False, header=False)
    return ExitStatus.SUCCESS


# -- export ----------------------------------------------------------------------------


def run_export_command(args) -> int:
    from .io.persistence import load

    estimator = load(args.model)
    _quiet_tensorflow()
    from .io.export import export_saved_model, signature_names

    export_saved_model(estimator, args.directory)
    inputs, outputs = signature_names(estimator)
    print(f"SavedModel written to {args.directory}")
    print(
        f"serving_default: inputs {', '.join(inputs)} -> outputs {', '.join(outputs)}"
    )
    return ExitStatus.SUCCESS


# -- parser ----------------------------------------------------------------------------


DATA_HELP = (
    ".csv, .csv.gz or .parquet files or glob patterns; their rows are concatenated"
)

COMMANDS = {
    "demo": run_demo_command,
    "fit": run_fit_command,
    "predict": run_predict_command,
    "export": run_export_command,
}


def _add_training_flags(parser) -> None:
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=1000,
        help="maximum number of epochs (default 1000)",
    )
    parser.add_argument(
        "--learning-rate",
        type=_learning_rate,
        default="auto",
        help="step size, or 'auto' for 1/L, the largest safe step (default)",
    )
    parser.add_argument(
        "--optimizer",
        choices=("auto", *OPTIMIZERS),
        default="auto",
        help="gd is the seeds' assign_sub(lr * grad); auto is momentum tuned to the "
        "spectrum on the gram engine, gd otherwise (default auto)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "gram", "data"),
        default="auto",
        help="data streams X through the tape every epoch; gram makes one pass for "
        "the moments, then O(d²) epochs; auto: gram for full batch, d <= 1000",
    )
    parser.add_argument(
        "--momentum",
        type=_fraction,
        default=0.9,
        help="momentum coefficient for --optimizer momentum (default 0.9)",
    )
    parser.add_argument(
        "--nesterov",
        action="store_true",
        help="Nesterov momentum for --optimizer momentum",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="shuffled mini-batches of this size (default: full batch)",
    )
    parser.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="centre and scale inside the fit (default on)",
    )
    parser.add_argument(
        "--intercept",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fit an intercept (default on)",
    )
    parser.add_argument(
        "--alpha",
        type=_non_negative_float,
        default=0.0,
        help="penalty strength, as in sklearn's ElasticNet (default 0: none)",
    )
    parser.add_argument(
        "--l1-ratio",
        type=_unit_interval,
        default=0.0,
        help="share of L1 in the penalty, 0 = ridge ... 1 = lasso (default 0)",
    )
    parser.add_argument(
        "--tol",
        type=_tolerance,
        default=1e-8,
        help="stop when the relative loss decrease stays below this for "
        "5 epochs; 'none' runs every epoch (default 1e-8)",
    )
    parser.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="training precision (default float32)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for mini-batch shuffling"
    )
    parser.add_argument(
        "--strategy",
        choices=["none", "mirrored", "multi-worker"],
        default="none",
        help="tf.distribute strategy; multi-worker: run this command on every "
        "worker of the cluster in TF_CONFIG, each reads its shard of DATA (files, "
        "or blocks of rows) and worker 0 prints and writes; see "
        "docs/distributed.md",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="read the files a block at a time, never whole (default: only when "
        "their columns would take over 1/8 of memory)",
    )
    parser.add_argument(
        "--solver",
        choices=["gd", "exact"],
        default="gd",
        help="gd trains with the GradientTape loop; exact solves directly",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tapereg",
        description="Linear regression trained by gradient descent on TensorFlow's "
        "GradientTape.",
    )
    parser.add_argument("--version", action="version", version=f"tapereg {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="reproduce a seed tutorial",
        description="Train on a seed tutorial's synthetic data with its own loop: "
        "'basic' (y = 3x + 2 + noise, the default) or 'line' "
        "(x = linspace(0, 10, 100), y = x + N(0, 1), lr 0.01, 100 epochs).",
    )
    demo.add_argument(
        "--tutorial",
        choices=["basic", "line"],
        default="basic",
        help="which seed to reproduce (default basic)",
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="random seed of the data (default 0)"
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="epochs (default: the tutorial's, 20 or 100)",
    )
    demo.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        help="step size (default: the tutorial's, 0.1 or 0.01)",
    )
    demo.add_argument(
        "--plot", metavar="PATH", help="write a PNG of the fit and the loss"
    )
    demo.add_argument("--json", action="store_true", help="print one JSON object")

    fit = commands.add_parser(
        "fit",
        help="train on a CSV or Parquet file",
        description="Train a linear model on CSV (plain or .gz) or Parquet files and "
        "print the coefficients beside the exact least-squares ones.",
    )
    fit.add_argument("data", metavar="DATA", nargs="+", help=DATA_HELP)
    fit.add_argument(
        "--target",
        required=True,
        type=_names,
        help="target column (several: comma-separated)",
    )
    fit.add_argument(
        "--features",
        type=_names,
        default=None,
        help="comma-separated feature columns (default: all others)",
    )
    _add_training_flags(fit)
    fit.add_argument(
        "--save", metavar="MODEL", help="write the fitted model (JSON file)"
    )
    fit.add_argument(
        "--plot", metavar="PATH", help="write a PNG of the fit and the loss"
    )
    fit.add_argument(
        "--summary",
        action="store_true",
        help="print the OLS table: std. errors, t, p-values, intervals, R², F",
    )
    fit.add_argument(
        "--level",
        type=_level,
        default=0.95,
        help="confidence level of the summary's intervals (default 0.95)",
    )
    fit.add_argument(
        "--logdir",
        metavar="DIR",
        help="write TensorBoard scalars (loss, gradient norm, learning rate per epoch)",
    )
    fit.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="keep the training state there (every --checkpoint-every epochs or 60 s)",
    )
    fit.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=100,
        metavar="N",
        help="epochs between checkpoints (default 100)",
    )
    fit.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint in --checkpoint-dir",
    )
    fit.add_argument("--json", action="store_true", help="print one JSON object")
    fit.add_argument("--quiet", action="store_true", help="no per-epoch progress")

    predict = commands.add_parser(
        "predict",
        help="predict with a saved model",
        description="Write a CSV of predictions of MODEL for the rows of DATA.",
    )
    predict.add_argument("model", metavar="MODEL", help="a model written by fit --save")
    predict.add_argument("data", metavar="DATA", nargs="+", help=DATA_HELP)
    predict.add_argument("--out", metavar="PATH", help="write here instead of stdout")

    export = commands.add_parser(
        "export",
        help="export a saved model as a TensorFlow SavedModel",
        description="Write MODEL as a TensorFlow SavedModel in DIR: signature "
        "serving_default takes one float32 input per feature (raw units) and returns "
        "one output per target; predict_matrix takes the feature matrix.",
    )
    export.add_argument("model", metavar="MODEL", help="a model written by fit --save")
    export.add_argument("directory", metavar="DIR", help="the SavedModel directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command](args))
    except TaperegError as error:
        one_line = " ".join(str(error).split())  # one line, whatever the message
        print(f"tapereg: error: {one_line}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    except BrokenPipeError:
        # The reader went away (``tapereg predict ... | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.ERROR
    except OSError as error:
        print(
            f"tapereg: error: {error.filename or ''}: {error.strerror or error}",
            file=sys.stderr,
        )
        return ExitStatus.BAD_INPUT
    except KeyboardInterrupt:
        print("tapereg: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED


def run() -> None:
    """The ``tapereg`` script: :func:`main`, then an exit that skips native teardown.

    pyarrow's thread pool can abort a process in the C++ destructors that run after
    Python has finished ("terminate called without an active exception", exit -6;
    apache/arrow#34314), when the work is done and every file closed. So the exit
    handlers Python registered run here, the streams are flushed, and the process
    leaves with ``os._exit``, before those destructors. A multi-worker process exits
    normally.
    """
    import atexit
    import contextlib

    try:
        status = main()
    except SystemExit as stop:  # argparse's --help, --version and usage errors
        status = stop.code
    if status is None:
        status = ExitStatus.SUCCESS
    elif not isinstance(status, int):
        print(status, file=sys.stderr)
        status = ExitStatus.ERROR
    distributed = sys.modules.get(f"{__package__}.distributed")
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # in CPython 3.x
    if run_exit_handlers is None or (
        distributed is not None and distributed.joined_cluster()
    ):
        # A worker leaves through TensorFlow's own shutdown, which tells the cluster
        # it is done; a worker that just vanished fails the peers still finishing.
        sys.exit(int(status))
    run_exit_handlers()  # what interpreter exit would run, in the same order
    for stream in (sys.stdout, sys.stderr):
        # A reader gone (``| head``) or a stream already closed: nothing to flush to.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(int(status))


if __name__ == "__main__":
    run()
