"""``tapereg fit``: train on CSV or Parquet files, report, save, plot.

The estimator, the table readers, ``fitting.fit_table`` (shards, in memory or
streamed, the exact reference, streamed metrics) and the writers do the work; this
module turns flags into them and their results into text or JSON. A formula or
``--missing drop`` reads the table as it is (``io.frames``); otherwise the numeric
reader, which ``fit_table`` trades for that one when it meets text under
``--categorical auto``. The report names the model's columns as the fit named them
(``C(firm)[T.IBM]``).
"""

from __future__ import annotations

from ..errors import ParameterError
from .output import emit, notes_to_stderr, quiet_tensorflow, warnings_to_stderr
from .paths import Output, check_paths, training_data
from .status import ExitStatus


def run_fit_command(args) -> int:
    with notes_to_stderr(enabled=not args.quiet), training_data(args) as data:
        return _run_fit(args, data)


def _check_paths(args, data: list[str]) -> None:
    """Before any reading: no output over an input or another output, and every
    output's folder there to write into."""
    from ..io.readers import expand_paths

    outputs = [
        Output("--save", args.save),
        Output("--plot", args.plot),
        Output("--logdir", args.logdir, "folder"),
        Output("--checkpoint-dir", args.checkpoint_dir, "folder"),
    ]
    if args.strategy == "multi-worker":
        from ..parallel.cluster import is_chief

        if not is_chief():  # writes nothing; its machine may lack the folders
            outputs = []
    check_paths([("data file", path) for path in expand_paths(data)], outputs)


def _check_columns_flags(args) -> None:
    """A formula names the target and the features; without one, --target does."""
    if args.formula is None:
        if args.target is None:
            raise ParameterError(
                "name the target: --target COL, or --formula 'y ~ x1 + x2'"
            )
        return
    for flag, given in (("--target", args.target), ("--features", args.features)):
        if given is not None:
            raise ParameterError(
                f"{flag} and --formula both name the columns: the formula's left "
                f"side is the target and its right side the terms; drop {flag}"
            )


def _open(args, data: list[str]):
    """The stream of the columns the flags name: as they are (a formula,
    --missing drop) or as numbers."""
    if args.formula is not None or args.missing == "drop":
        from ..io.frames import open_frames

        return open_frames(
            data,
            args.target,
            args.features,
            formula=args.formula,
            groups=args.cluster,
            allow_missing=args.missing == "drop",
        )
    from ..io.readers import open_table

    # Unstandardized float32 training takes the values as they are: they must fit.
    fits = "float32" if args.dtype == "float32" and not args.standardize else None
    return open_table(data, args.target, args.features, groups=args.cluster, fits=fits)


def _check_penalty_flags(args) -> None:
    """--alphas, --cv and several --l1-ratio values are --alpha cv's."""
    cv = args.alpha == "cv"
    several = isinstance(args.l1_ratio, list)
    for flag, given in (
        ("--alphas", args.alphas is not None),
        ("--cv", args.cv is not None),
        ("--l1-ratio with several values", several),
    ):
        if given and not cv:
            raise ParameterError(f"{flag} is for --alpha cv, which chooses alpha")
    if cv and args.positive:
        raise ParameterError(
            "--alpha cv has no --positive (its path is unconstrained); drop one"
        )
    if cv and args.loss != "squared_error":
        raise ParameterError(
            f"--alpha cv chooses a least-squares penalty; --loss {args.loss} "
            "takes a fixed --alpha"
        )


def _run_fit(args, data: list[str]) -> int:
    _check_columns_flags(args)
    _check_penalty_flags(args)
    if args.cov_type == "cluster" and args.cluster is None:
        raise ParameterError(
            "--cov-type cluster needs the cluster labels: --cluster COL names "
            "their column"
        )
    for flag, asked in (
        ("--summary", args.summary),
        ("--test", args.test),
        ("--cluster", args.cluster),
    ):
        if asked and args.alpha:
            raise ParameterError(
                f"{flag} is for ordinary least squares; drop --alpha to get it"
            )
        if asked and args.positive:
            raise ParameterError(
                f"{flag} is for unconstrained least squares; drop --positive to get it"
            )
        if asked and args.loss != "squared_error":
            raise ParameterError(
                f"{flag} is for least squares; drop --loss {args.loss} to get it"
            )
        if asked and not args.statistics:
            raise ParameterError(
                f"{flag} needs the statistics --no-statistics skips; drop one of them"
            )
    _check_paths(args, data)
    stream = _open(args, data)
    estimator = _estimator(args)
    if args.warm_start is not None:
        estimator = _warm_started(args, estimator, stream)
    if args.solver == "gd" or args.strategy != "none":
        # Before any TensorFlow op: collectives are configured at start-up.
        quiet_tensorflow()
    from ..fitting.tables import fit_table

    fitted = fit_table(
        estimator,
        stream,
        stream_rows=args.stream,
        progress=not args.quiet,
        want_sample=bool(args.plot),
        want_reference=args.reference,
        check_terms=_restrictions_check(args),
        keep_moments=bool(args.save),
    )
    if not fitted.chief:
        return ExitStatus.SUCCESS  # the other workers print and write nothing
    warnings_to_stderr(
        w for w in fitted.warnings if issubclass(w.category, UserWarning)
    )
    report = fit_report(fitted, level=args.level, tests=args.test)
    _write(args, fitted, report)
    from ..reports.report import format_coefficients, format_summary

    text = f"{format_coefficients(report)}\n\n{format_summary(report)}"
    if "cv" in report:
        from ..reports.report import format_cv

        text += "\n" + format_cv(report["cv"])
    if args.summary:
        text += "\n\n" + fitted.estimator.summary_text(args.level)
    if args.test:
        from ..reports.report import format_f_tests

        several = len(fitted.target_names) > 1
        text += "\n\n" + format_f_tests(report["tests"], several)
    if args.save:
        text += f"\nmodel written to {args.save}"
    if args.plot:
        text += f"\nplot written to {args.plot}"
    emit(report, text, args.json)
    return ExitStatus.SUCCESS


def _restrictions_check(args):
    """For a numeric table, the check of --test's restrictions against its
    columns before the fit: a typo costs a second, not a fit. (An encoded
    table's columns are known after the fit, which checks them then.)"""
    if not args.test:
        return None

    def check(feature_names: list[str]) -> None:
        from ..numerics.hypotheses import restriction_matrix

        terms = ["intercept"] * args.intercept + feature_names
        for spec in args.test:
            restriction_matrix(spec, terms)

    return check


def _estimator(args):
    """The LinearRegressor the flags describe (the strategy by its name); a
    LinearRegressorCV for --alpha cv."""
    common = _common_params(args)
    if args.alpha == "cv":
        from ..estimator_cv import LinearRegressorCV

        return LinearRegressorCV(
            alphas=100 if args.alphas is None else args.alphas,
            l1_ratio=args.l1_ratio,
            cv=5 if args.cv is None else args.cv,
            **common,
        )
    from ..estimator import LinearRegressor

    return LinearRegressor(
        alpha=args.alpha,
        l1_ratio=args.l1_ratio,
        positive=args.positive,
        loss=args.loss,
        epsilon=args.epsilon,
        quantile=args.quantile,
        **common,
    )


def _common_params(args) -> dict:
    """The parameters LinearRegressor and LinearRegressorCV share."""
    return dict(
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
        engine=args.engine,
        logdir=args.logdir,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        strategy=args.strategy,
        compute_statistics=args.statistics,
        cov_type=args.cov_type,
        formula=args.formula,
        categorical=args.categorical,
        missing=args.missing,
    )


def _loss_label(estimator) -> str | None:
    """The report's name of a loss other than the squared error."""
    if estimator.loss == "squared_error":
        return None
    from ..numerics.losses import loss_name

    return loss_name(
        estimator.loss, epsilon=estimator.epsilon, quantile=estimator.quantile
    )


def _warm_started(args, estimator, stream):
    """The saved model of ``--warm-start`` with the flags' parameters and
    ``warm_start=True``: its fit starts from the model's coefficients. Its
    columns must be the ones the flags name (the same formula, where one is
    given)."""
    from ..io.persistence import load

    model = load(args.warm_start)
    label = f"--warm-start {args.warm_start}"
    if model.formula != args.formula:
        given = "no formula" if args.formula is None else f"--formula {args.formula!r}"
        kept = "no formula" if model.formula is None else repr(model.formula)
        raise ParameterError(
            f"{label} was fitted with {kept}, this fit has {given}; a warm start "
            "needs the same columns"
        )
    if args.formula is None:
        encoding = getattr(model, "encoding_", None)
        columns = getattr(model, "feature_names_in_", None)
        if encoding is not None:
            columns = encoding.columns  # the raw columns its design is made of
        _check_same(label, "features", columns, stream.feature_names)
        targets = getattr(model, "target_names_", None)
        _check_same(label, "targets", targets, stream.target_names)
        if columns is None and model.n_features_in_ != len(stream.feature_names):
            raise ParameterError(
                f"{label} has {model.n_features_in_} features, the data "
                f"{len(stream.feature_names)}; a warm start needs the same columns"
            )
    return model.set_params(**{**estimator.get_params(), "warm_start": True})


def _check_same(label: str, what: str, kept, given) -> None:
    """The model's columns (None: unnamed, not compared) are the data's."""
    if kept is None:
        return
    kept, given = [str(n) for n in kept], [str(n) for n in given]
    if kept != given:
        raise ParameterError(
            f"{label} has the {what} {', '.join(kept)}; this fit's are "
            f"{', '.join(given)}: a warm start needs the same columns"
        )


def fit_report(fitted, *, level: float = 0.95, tests=None) -> dict:
    """The report behind the text and ``--json`` (``fit``'s and ``update``'s),
    described by the estimator's parameters."""
    import numpy as np

    from ..fitting.tables import row_loss_of
    from ..reports.report import build_report, summary_to_json

    estimator, table = fitted.estimator, fitted.table
    exact_solver = estimator.solver == "exact"
    rate = estimator.learning_rate_
    report = build_report(
        None if table is None else table.X,
        None if table is None else table.y,
        coef=np.atleast_2d(estimator.coef_).T,
        intercept=np.atleast_1d(estimator.intercept_),
        exact_coef=None if fitted.reference is None else fitted.reference[0],
        exact_intercept=None if fitted.reference is None else fitted.reference[1],
        loss_history=estimator.loss_curve_,
        n_iter=estimator.n_iter_,
        optimizer="exact" if exact_solver else estimator.optimizer_,
        learning_rate=None if rate != rate else rate,
        seconds=fitted.seconds,
        feature_names=fitted.feature_names,
        target_names=fitted.target_names,
        metrics=fitted.metrics,
        row_loss=row_loss_of(estimator),
        loss_label=_loss_label(estimator),
    )
    report["engine"] = None if exact_solver else estimator.engine_
    # The precision training ran in: the gram engine's is float64 whatever --dtype.
    report["dtype"] = "float64" if report["engine"] != "data" else estimator.dtype
    report["streamed"] = table is None
    report["strategy"] = estimator.strategy or "none"
    fitted_params = estimator._fit_params()  # a CV's: the chosen penalty's
    alpha, l1_ratio = fitted_params["alpha"], fitted_params["l1_ratio"]
    if report["exact"] is not None and fitted.reference_problem is not None:
        report["exact"]["problem"] = fitted.reference_problem
    elif report["exact"] is not None:
        positive = fitted_params["positive"]
        report["exact"]["problem"] = (
            ("non-negative least squares" if positive else "least squares")
            if not alpha
            else "ridge"
            if l1_ratio == 0
            else "least squares, unpenalized"
        )
    if hasattr(estimator, "mse_path_"):  # LinearRegressorCV's choice
        from ..reports.report import cv_to_json

        report["alpha_"], report["l1_ratio_"] = alpha, l1_ratio
        report["cv"] = cv_to_json(estimator, interleaved=table is None)
    if hasattr(estimator, "statistics_"):
        report["summary"] = summary_to_json(estimator, level)
    if tests:
        from ..reports.report import f_tests

        report["tests"] = f_tests(estimator, tests)
    return report


def _write(args, fitted, report) -> None:
    """The model file and the plot the flags ask for."""
    import numpy as np

    estimator = fitted.estimator
    if args.save:
        from ..io.persistence import save

        save(estimator, args.save, metrics=report["metrics"])
    if args.plot:
        from ..reports.plotting import plot_fit

        plot_fit(
            args.plot,
            fitted.sample.X,
            fitted.sample.y,
            coef=np.atleast_2d(estimator.coef_).T,
            intercept=np.atleast_1d(estimator.intercept_),
            loss_history=estimator.loss_curve_,
            exact_coef=None if fitted.reference is None else fitted.reference[0],
            exact_intercept=None if fitted.reference is None else fitted.reference[1],
            exact_loss=None if report["exact"] is None else report["exact"]["mse"],
            feature_names=fitted.feature_names,
            target_names=fitted.target_names,
        )
