"""``tapereg predict``: predictions of a saved model, a block of rows at a time.

A model with an encoding (a formula, text columns) reads the raw columns it needs
as they are (``io.frames``; text as text where its levels are text) and applies
it; other models read numbers, as they always did.
"""

from __future__ import annotations

import sys

from .paths import STDIO, Output, check_paths, standard_input_as_file
from .status import ExitStatus


def run_predict_command(args) -> int:
    """Predictions a block of rows at a time: files of any size, flat memory."""
    with standard_input_as_file(args.data) as data:
        return _predict(args, data)


def _predict(args, data: list[str]) -> int:
    from ..io.persistence import load
    from ..io.readers import expand_paths, open_features

    check_paths(
        [("model file", args.model)]
        + [("data file", path) for path in expand_paths(data)],
        [Output("--out", args.out)],
    )
    estimator = load(args.model)
    names = getattr(estimator, "feature_names_in_", None)
    encoding = getattr(estimator, "encoding_", None)
    if encoding is None:
        stream = open_features(
            data, None if names is None else list(names), estimator.n_features_in_
        )
    else:
        from ..io.frames import kinds_for_levels, open_frames

        stream = open_frames(
            data,
            features=list(encoding.columns),
            kinds=kinds_for_levels(encoding.columns, encoding.levels),
            allow_missing=False,
        )
    import contextlib

    import numpy as np
    import pandas as pd

    targets = [str(t) for t in estimator.target_names_]
    if args.interval is None:
        columns = targets
    else:
        from ..numerics.statistics import PREDICTION_COLUMNS

        columns = [
            name if len(targets) == 1 else f"{target}.{name}"
            for target in targets
            for name in PREDICTION_COLUMNS
        ]
    with contextlib.ExitStack() as stack:
        if args.out and args.out != STDIO:
            from ..runtime.atomic import atomic_write

            file = stack.enter_context(
                atomic_write(args.out, "w", encoding="utf-8", newline="")
            )
        else:
            file = sys.stdout
        first_row, header = 1, True
        for rows in _rows(stream, names, encoding):
            n_rows = len(rows)
            with np.errstate(over="ignore", invalid="ignore"):  # checked next
                predictions = estimator.predict(rows).reshape(n_rows, -1)
                _check_finite(predictions, first_row, targets)
                if args.interval is not None:
                    predictions = estimator.predict_interval(rows, args.interval)
            first_row += n_rows
            frame = pd.DataFrame(np.asarray(predictions), columns=columns)
            # The header with the first block: an error there leaves no output.
            frame.to_csv(file, index=False, header=header)
            header = False
        if header:  # no rows: the header alone
            pd.DataFrame(columns=columns).to_csv(file, index=False)
    return ExitStatus.SUCCESS


def _rows(stream, names, encoding):
    """The blocks of rows as the model takes them: raw DataFrames for its
    encoding, numbers (named where the model names its features) otherwise."""
    if encoding is not None:
        yield from stream
        return
    import pandas as pd

    for X, _ in stream:
        yield X if names is None else pd.DataFrame(X, columns=names, copy=False)


def _check_finite(predictions, first_row: int, columns: list[str]) -> None:
    """A loaded model's numbers are finite, but X·coef can still overflow float64:
    refuse rather than write inf or NaN."""
    import numpy as np

    from ..errors import DataError

    bad = np.argwhere(~np.isfinite(predictions))
    if bad.size:
        row, target = bad[0]
        raise DataError(
            f"row {first_row + row} of the data: the prediction of {columns[target]!r} "
            f"overflows float64 ({predictions[row, target]}); the features times the "
            "coefficients are too large"
        )
