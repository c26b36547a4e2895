"""``tapereg update``: add the rows of files to a saved model (``partial_fit``).

The model file keeps the float64 moments of the rows it was fitted on; those of
the new rows are merged with them, so the updated model is the fit of every row
seen. ``fitting.fit_table(add_rows=True)`` reads the files (whole, or streamed:
only the blocks' moments are kept) and the report is ``fit``'s, its exact optimum
that of every row seen and its metrics those of the new rows. The model is
written atomically, over MODEL or to ``--output``: an error leaves it as it was.
"""

from __future__ import annotations

import sys

from ..errors import ParameterError
from .fit import fit_report
from .output import emit, notes_to_stderr, quiet_tensorflow, warnings_to_stderr
from .paths import Output, check_paths, training_data
from .status import ExitStatus
from .vocabulary import in_cli_terms


def run_update_command(args) -> int:
    with notes_to_stderr(enabled=not args.quiet), training_data(args) as data:
        return _update(args, data)


def _update(args, data: list[str]) -> int:
    from ..io.persistence import load, save
    from ..io.readers import expand_paths, open_table

    output = args.output or args.model
    _check_paths(args, data, output, expand_paths)
    model = load(args.model)
    _check_numeric(args.model, model)
    features, targets = _columns(args, model)
    # Unstandardized float32 training takes the values as they are: they must fit.
    fits = "float32" if model.dtype == "float32" and not model.standardize else None
    stream = open_table(data, targets, features, fits=fits)
    before = getattr(model, "moments_", None)
    notes = []
    if before is None:
        notes.append(
            f"{args.model} keeps no moments of the rows it was fitted on (saved by "
            "the API's fit, or wider than 1,000 columns); update starts over from "
            "these rows"
        )
        model = type(model)(**model.get_params())
    if model.cov_type != "nonrobust":
        notes.append(
            f"{args.model} was fitted with cov_type={model.cov_type!r}, which needs "
            "a pass over every row; the updated model keeps the nonrobust covariance"
        )
    model.set_params(
        strategy=args.strategy,
        verbose=0,
        logdir=None,
        checkpoint_dir=None,
        resume=False,
        warm_start=False,
        cov_type="nonrobust",
    )
    if model.solver == "gd" or args.strategy != "none":
        # Before any TensorFlow op: collectives are configured at start-up.
        quiet_tensorflow()
    from ..fitting.tables import fit_table

    fitted = fit_table(
        model,
        stream,
        stream_rows=args.stream,
        want_reference=args.reference,
        add_rows=True,
    )
    if not fitted.chief:
        return ExitStatus.SUCCESS  # the other workers print and write nothing
    for note in notes:
        print(f"tapereg: warning: {in_cli_terms(note)}", file=sys.stderr)
    warnings_to_stderr(
        w for w in fitted.warnings if issubclass(w.category, UserWarning)
    )
    report = fit_report(fitted)
    seen = fitted.estimator.moments_.n_samples
    report["rows_added"] = seen - (0 if before is None else before.n_samples)
    report["rows_seen"] = seen
    report["model"] = output
    save(fitted.estimator, output, metrics=report["metrics"])
    from ..reports.report import format_coefficients, format_summary

    text = (
        f"{format_coefficients(report)}\n\n{format_summary(report)}\n"
        f"{report['rows_added']:,} rows added, {seen:,} rows seen in all\n"
        f"model written to {output}"
    )
    emit(report, text, args.json)
    return ExitStatus.SUCCESS


def _check_paths(args, data: list[str], output: str, expand_paths) -> None:
    """Before any reading: the new model over no data file (nor over MODEL when
    written elsewhere), into a folder that is there."""
    inputs = [("data file", path) for path in expand_paths(data)]
    if args.output:
        inputs.append(("model file", args.model))
    outputs = [Output("--output" if args.output else "MODEL", output)]
    if args.strategy == "multi-worker":
        from ..parallel.cluster import is_chief

        if not is_chief():  # writes nothing
            outputs = []
    check_paths(inputs, outputs)


def _check_numeric(path: str, model) -> None:
    """``update`` adds numeric columns: a model that encodes its input (a
    formula, text columns) could meet new levels."""
    if model.formula is not None:
        raise ParameterError(
            f"{path} was fitted with the formula {model.formula!r}; update adds "
            "rows of numeric columns (a formula's levels could change): refit the "
            "table with tapereg fit"
        )
    if getattr(model, "encoding_", None) is not None:
        raise ParameterError(
            f"{path} encodes text columns ({', '.join(model.encoding_.levels)}); "
            "update adds rows of numeric columns (new levels could appear): refit "
            "the table with tapereg fit"
        )


def _columns(args, model) -> tuple[list[str] | None, list[str]]:
    """(features, targets) to read: the model's, in its order. --features and
    --target, where given, must name the same columns; a model without feature
    names takes --features (default: every other column)."""
    targets = [str(t) for t in model.target_names_]
    _check_same("--target", args.target, targets, "target")
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return args.features, targets
    features = [str(n) for n in names]
    _check_same("--features", args.features, features, "features")
    return features, targets


def _check_same(flag: str, given, kept: list[str], what: str) -> None:
    if given is not None and sorted(given) != sorted(kept):
        raise ParameterError(
            f"{flag} {','.join(given)} is not the model's {what} {','.join(kept)}: "
            "update adds rows to the columns the model was fitted on"
        )
