"""The command line's arguments: one parser, a sub-parser per command.

Only argparse is imported here, so ``tapereg --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..fitting.choices import (
    CATEGORICAL,
    COV_TYPES,
    DTYPES,
    ENGINES,
    LOSSES,
    MISSING,
    OPTIMIZER_CHOICES,
    SOLVERS,
    STRATEGIES,
)
from .status import ExitStatus


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit status 2."""

    def parse_known_args(self, args=None, namespace=None):
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message):
        self.exit(
            ExitStatus.BAD_INPUT,
            f"{self.prog}: error: {message}{self._dash_hint()}\n",
        )

    def _dash_hint(self) -> str:
        """A path that begins with ``-`` reads as an option: say how to pass it."""
        options = self._option_string_actions
        for token in getattr(self, "_given", []):
            if token == "--":
                break
            name = token.split("=", 1)[0]
            looks_like_a_path = os.path.exists(token) or any(c in name for c in "./")
            an_option = any(option.startswith(name) for option in options)
            if token[0] == "-" and looks_like_a_path and not an_option:
                return (
                    f" ({token} reads as an option; for a file of that "
                    f"name write ./{token}, or put -- before it)"
                )
        return ""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


MAX_SEED = 2**32 - 1  # NumPy's RandomState takes seeds 0 to 2**32 - 1


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be an integer from 0 to {MAX_SEED}, got {text}"
        )
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


def _alpha(text: str):
    if text == "cv":
        return text
    try:
        return _non_negative_float(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error} (or cv, to choose it)") from None


def _numbers(parse):
    """An argparse type: comma-separated numbers, each read by ``parse``."""

    def parse_list(text: str) -> list[float]:
        parts = [p.strip() for p in text.split(",")]
        if not all(parts):
            raise argparse.ArgumentTypeError(
                f"expected comma-separated numbers, got {text!r}"
            )
        return [parse(p) for p in parts]

    return parse_list


def _l1_ratio(text: str):
    """One share of L1, or several (comma-separated) for --alpha cv."""
    values = _numbers(_unit_interval)(text)
    return values[0] if len(values) == 1 else values


def _folds(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 folds, got {value}")
    return value


def _learning_rate(text: str):
    return "auto" if text == "auto" else _positive_float(text)


def _tolerance(text: str):
    return None if text.lower() == "none" else _fraction(text)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


DATA_HELP = (
    ".csv, .csv.gz or .parquet files or glob patterns; their rows are concatenated "
    "(- reads CSV from standard input)"
)


def _add_training_flags(parser) -> None:
    """Every flag that sets a LinearRegressor parameter."""
    _add_optimization_flags(parser)
    _add_model_flags(parser)


def _add_optimization_flags(parser) -> None:
    """The flags of the gradient-descent loop."""
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
        choices=OPTIMIZER_CHOICES,
        default="auto",
        help="gd is the seeds' assign_sub(lr * grad); auto is gd on the whitened "
        "problem on the gram engine (automatic step, no L1), gd otherwise "
        "(default auto)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
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


def _add_model_flags(parser) -> None:
    """The flags of the problem and how it is solved."""
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
        type=_alpha,
        default=0.0,
        help="penalty strength, as in sklearn's ElasticNet (default 0: none); cv "
        "chooses it by cross-validation, as sklearn's ElasticNetCV",
    )
    parser.add_argument(
        "--l1-ratio",
        type=_l1_ratio,
        default=0.0,
        help="share of L1 in the penalty, 0 = ridge ... 1 = lasso (default 0); "
        "with --alpha cv, several (comma-separated) are cross-validated too",
    )
    parser.add_argument(
        "--alphas",
        type=_numbers(_non_negative_float),
        default=None,
        metavar="A,B,...",
        help="the alphas --alpha cv tries (default: 100 from the smallest alpha "
        "whose fit is 0 down to 1/1000 of it)",
    )
    parser.add_argument(
        "--cv",
        type=_folds,
        default=None,
        metavar="K",
        help="folds of --alpha cv (default 5): contiguous in memory, interleaved "
        "(row i in fold i mod K) when streamed",
    )
    parser.add_argument(
        "--positive",
        action="store_true",
        help="non-negative coefficients, as sklearn's LinearRegression(positive=True)",
    )
    parser.add_argument(
        "--loss",
        choices=LOSSES,
        default="squared_error",
        help="what training minimizes (default squared_error): huber and "
        "epsilon_insensitive as sklearn's SGDRegressor, quantile the pinball loss",
    )
    parser.add_argument(
        "--epsilon",
        type=_non_negative_float,
        default=0.1,
        help="huber's threshold and epsilon_insensitive's band, in the target's "
        "units (default 0.1)",
    )
    parser.add_argument(
        "--quantile",
        type=_level,
        default=0.5,
        help="the quantile --loss quantile estimates, in (0, 1) (default 0.5)",
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
        choices=DTYPES,
        default="float32",
        help="the data engine's training precision (default float32); the gram "
        "engine and the exact solver always work in float64",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help="seed for mini-batch shuffling, 0 to 2**32 - 1",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
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
        choices=SOLVERS,
        default="gd",
        help="gd trains with the GradientTape loop; exact solves directly",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tapereg",
        description="Linear regression trained by gradient descent on TensorFlow's "
        "GradientTape.",
    )
    parser.add_argument("--version", action="version", version=f"tapereg {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for add in (_add_demo, _add_fit, _add_update, _add_predict, _add_export):
        add(commands)
    return parser


def _add_demo(commands) -> None:
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
        "--seed", type=_seed, default=0, help="random seed of the data (default 0)"
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


def _add_fit(commands) -> None:
    fit = commands.add_parser(
        "fit",
        help="train on a CSV or Parquet file",
        description="Train a linear model on CSV (plain or .gz) or Parquet files and "
        "print the coefficients beside the exact least-squares ones.",
    )
    fit.add_argument("data", metavar="DATA", nargs="+", help=DATA_HELP)
    fit.add_argument(
        "--target",
        type=_names,
        default=None,
        help="target column (several: comma-separated); or --formula",
    )
    fit.add_argument(
        "--features",
        type=_names,
        default=None,
        help="comma-separated feature columns (default: all others but --cluster)",
    )
    fit.add_argument(
        "--formula",
        metavar="FORMULA",
        default=None,
        help="a formula as statsmodels' ols takes it, instead of --target and "
        "--features: 'invest ~ np.log(value) + C(firm) + value:capital'",
    )
    fit.add_argument(
        "--categorical",
        choices=CATEGORICAL,
        default="auto",
        help="text columns without a formula: one-hot features, the first level "
        "(sorted) the reference (auto), or refused (error) (default auto)",
    )
    fit.add_argument(
        "--missing",
        choices=MISSING,
        default="error",
        help="a row with a missing cell (empty, NA, NaN, null) in a column used: "
        "refused with its row (error), or dropped, counted on stderr (drop) "
        "(default error)",
    )
    fit.add_argument(
        "--cluster",
        metavar="COL",
        default=None,
        help="column of cluster labels (text, integers, dates: compared as they "
        "are) for cluster-robust standard errors; not a feature",
    )
    _add_training_flags(fit)
    _add_fit_outputs(fit)
    fit.add_argument(
        "--warm-start",
        metavar="MODEL",
        default=None,
        help="start training from a saved model's coefficients (the same "
        "features and targets): a refit on similar data takes a few epochs",
    )


def _add_update(commands) -> None:
    update = commands.add_parser(
        "update",
        help="add the rows of files to a saved model",
        description="Load MODEL, add the rows of DATA to its fit (partial_fit: "
        "the moments of the new rows merged with those the model keeps, so the "
        "result is the fit of every row seen), print the report fit prints and "
        "write the updated model, in place or to --output.",
    )
    update.add_argument("model", metavar="MODEL", help="a model written by fit --save")
    update.add_argument("data", metavar="DATA", nargs="+", help=DATA_HELP)
    update.add_argument(
        "--output",
        metavar="NEW_MODEL",
        default=None,
        help="write the updated model here (default: over MODEL, atomically)",
    )
    update.add_argument(
        "--target",
        type=_names,
        default=None,
        help="target column(s); default, and if given must be: the model's",
    )
    update.add_argument(
        "--features",
        type=_names,
        default=None,
        help="feature columns; default, and if given must be: the model's",
    )
    update.add_argument(
        "--stream",
        action="store_true",
        help="read the files a block at a time, never whole (default: only when "
        "their columns would take over 1/8 of memory)",
    )
    update.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="none",
        help="as for fit: multi-worker runs on every worker of TF_CONFIG's "
        "cluster, each adds its shard of DATA, worker 0 prints and writes",
    )
    update.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the exact least-squares optimum of every row seen (from the "
        "model's moments) that the report compares with",
    )
    update.add_argument("--json", action="store_true", help="print one JSON object")
    update.add_argument("--quiet", action="store_true", help="no notes on long phases")


def _add_fit_outputs(fit) -> None:
    """Where ``fit`` writes: model, plot, summary, logs, checkpoints, JSON."""
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
        "--cov-type",
        choices=COV_TYPES,
        default="nonrobust",
        help="the summary's covariance, as statsmodels' cov_type; HC0-HC3 and "
        "cluster (with --cluster) cost one more pass over the rows "
        "(default nonrobust)",
    )
    fit.add_argument(
        "--test",
        action="append",
        metavar="RESTRICTIONS",
        help="print the F test of restrictions on the terms, as statsmodels writes "
        "them: --test 'x1 = 0, x2 = x3' (repeatable; under --cov-type)",
    )
    fit.add_argument(
        "--level",
        type=_level,
        default=0.95,
        help="confidence level of the summary's intervals (default 0.95)",
    )
    fit.add_argument(
        "--no-statistics",
        dest="statistics",
        action="store_false",
        help="skip the OLS statistics (standard errors, R² adjusted, F): on wide "
        "data they cost a QR and an SVD of the rows (API: compute_statistics=False)",
    )
    fit.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the exact least-squares optimum the report compares training "
        "with (a QR and an SVD of the rows, or the moments when streamed)",
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
    fit.add_argument(
        "--quiet",
        action="store_true",
        help="no per-epoch progress, no notes on long phases",
    )


def _add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict with a saved model",
        description="Write a CSV of predictions of MODEL for the rows of DATA.",
    )
    predict.add_argument("model", metavar="MODEL", help="a model written by fit --save")
    predict.add_argument("data", metavar="DATA", nargs="+", help=DATA_HELP)
    predict.add_argument(
        "--out", metavar="PATH", help="write here (default, or -: standard output)"
    )
    predict.add_argument(
        "--interval",
        type=_level,
        metavar="LEVEL",
        help="also the mean's standard error and the intervals for the mean and a "
        "new observation at this level (statsmodels' get_prediction columns)",
    )


def _add_export(commands) -> None:
    export = commands.add_parser(
        "export",
        help="export a saved model as a TensorFlow SavedModel",
        description="Write MODEL as a TensorFlow SavedModel in DIR: signature "
        "serving_default takes one float32 input per feature (raw units) and returns "
        "one output per target; predict_matrix takes the feature matrix; "
        "predict_interval takes serving_default's inputs and returns predict "
        "--interval's columns (float64), where the model keeps its covariance.",
    )
    export.add_argument("model", metavar="MODEL", help="a model written by fit --save")
    export.add_argument("directory", metavar="DIR", help="the SavedModel directory")
    export.add_argument(
        "--level",
        type=_level,
        default=0.95,
        help="confidence level of the predict_interval signature's intervals, "
        "fixed in the export (default 0.95)",
    )
