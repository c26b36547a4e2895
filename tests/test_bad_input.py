"""Every kind of bad input, through the real CLI: one line on stderr, the right exit
status, no traceback, nothing half-written; and the same cases through the API.

All commands run once, in a module fixture; each case is then its own test. Most
run in this process through ``main(argv)`` (the parser, the commands and their
messages are the script's); a few representative ones run as ``python -m
tapereg``, which proves the same end to end: the exit status, the one stderr line,
TensorFlow's start-up chatter kept off it, nothing left half-written by a failed
run.
"""

import contextlib
import gzip
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import tapereg
from tapereg import LinearRegressor, save
from tapereg.cli import main
from tapereg.errors import (
    CollinearityWarning,
    ConstantColumnWarning,
    ConstantTargetWarning,
    DataError,
    DivergenceError,
    ModelFileError,
    ParameterError,
    TaperegError,
)
from tapereg.io.readers import open_table

GOOD = "a,b,y\n" + "".join(
    f"{x},{(x * 7) % 5},{x + 2 * ((x * 7) % 5)}\n" for x in range(20)
)
NOISY = "a,b,y\n" + "".join(
    f"{x},{(x * 7) % 5},{x + 0.1 * ((x * 13) % 7)}\n" for x in range(20)
)


PROGRESS = re.compile(r"epoch \d+: loss ")


def _parquet(frame: pd.DataFrame, **kwargs) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, **kwargs)
    return buffer.getvalue()


def _gzip(text: str) -> bytes:
    return gzip.compress(text.encode())


@dataclass
class Case:
    """A command on files; what it must print and return."""

    id: str
    files: dict  # name -> str or bytes, written into the case's own folder
    args: list  # the command line after "tapereg"
    status: int
    stderr: str  # a substring of the one error line, or of a warning line
    creates: list = field(default_factory=list)  # files that must NOT exist after


def fit(*args):
    return ["fit", *args]


FIT_CASES = [
    # -- the file itself --
    Case(
        "empty file",
        {"d.csv": ""},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: the file is empty",
    ),
    Case(
        "lines ending in a lone CR",
        {"d.csv": "a,b,y\r1,2,3\r4,5,6\r"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: its lines end in a lone carriage return (CR, as on classic Mac OS); "
        "convert it to LF or CRLF line ends",
    ),
    Case(
        "header only",
        {"d.csv": "a,b,y\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: no data rows",
    ),
    Case(
        "blank first line",
        {"d.csv": "\na,y\n1,2\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: line 1 is blank; it must name the columns",
    ),
    Case(
        "blank line between rows",
        {"d.csv": "a,y\n1,2\n\n3,4\n5,7\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv, line 3: blank line between data rows (only the end of a file may "
        "have blank lines)",
    ),
    Case(
        "header without data is numbers",
        {"d.csv": "1,2\n3,4\n"},
        fit("d.csv", "--target", "2"),
        2,
        "seems to have no header row",
    ),
    Case(
        "non-numeric cell",
        {"d.csv": "a,b,y\n1,2,3\n4,x,6\n7,8,9\n"},
        # By default (--categorical auto) a text column is one-hot encoded.
        fit("d.csv", "--target", "y", "--categorical", "error"),
        2,
        "d.csv: column 'b', row 2: 'x' is not a number",
    ),
    Case(
        "missing value",
        {"d.csv": "a,b,y\n1,2,3\n4,,6\n7,8,9\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: column 'b', row 2: missing value (empty, NA or NaN)",
    ),
    Case(
        "NaN in X",
        {"d.csv": "a,b,y\n1,2,3\n4,5,6\n7,NaN,9\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: column 'b', row 3: missing value",
    ),
    Case(
        "inf in y",
        {"d.csv": "a,b,y\n1,2,3\n4,5,inf\n7,8,9\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: column 'y', row 2: inf is not a finite number",
    ),
    Case(
        "-inf in X",
        {"d.csv": "a,b,y\n1,2,3\n4,-inf,6\n7,8,9\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: column 'b', row 2: -inf is not a finite number",
    ),
    Case(
        "float32 overflow, unstandardized",
        {"d.csv": GOOD + "4,1e39,6\n"},
        fit("d.csv", "--target", "y", "--no-standardize"),
        2,
        "d.csv: column 'b', row 21: 1e+39 overflows float32, the training dtype; "
        "train in float64 or standardize the features",
    ),
    Case(
        # (The default whitens the problem and fits it; plain gd cannot.)
        "features on wildly different scales, unstandardized, plain gd",
        {"d.csv": NOISY + "4,1e30,6\n"},
        fit("d.csv", "--target", "y", "--no-standardize", "--optimizer", "gd"),
        0,
        "tapereg: warning: the loss's curvature ranges over a factor",
    ),
    Case(
        "ragged row, too many values",
        {"d.csv": "a,b,y\n1,2,3\n4,5,6,7\n7,8,9\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv, row 2: 4 values where the header names 3 columns",
    ),
    Case(
        "ragged row, too few values",
        {"d.csv": "a,b,y\n1,2,3\n4,5,6\n7,8\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv, row 3: 2 values where the header names 3 columns",
    ),
    Case(
        "duplicate column names",
        {"d.csv": "a,a,y\n1,2,3\n4,5,6\n7,8,9\n"},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: column 'a' appears 2 times",
    ),
    Case(
        "missing target column",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "price"),
        2,
        "d.csv: no target column 'price' (columns: a, b, y)",
    ),
    Case(
        "missing feature column",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--features", "a,rooms"),
        2,
        "d.csv: no feature column 'rooms' (columns: a, b, y)",
    ),
    Case(
        "a directory",
        {"folder/d.csv": GOOD},
        fit("folder", "--target", "y"),
        2,
        "folder: is a directory, not a data file",
    ),
    Case(
        "no such file",
        {},
        fit("nope.csv", "--target", "y"),
        2,
        "nope.csv: no such file",
    ),
    Case(
        "no file matches a pattern",
        {},
        fit("*.csv", "--target", "y"),
        2,
        "*.csv: no file matches this pattern",
    ),
    Case(
        "gzip bytes named .csv",
        {"d.csv": _gzip(GOOD)},
        fit("d.csv", "--target", "y"),
        0,
        "",
    ),
    Case(
        "Parquet bytes named .csv",
        {"d.csv": _parquet(pd.read_csv(io.StringIO(GOOD)))},
        fit("d.csv", "--target", "y"),
        0,
        "",
    ),
    Case(
        "binary bytes named .csv",
        {"d.csv": b"\x89PNG\r\n\x1a\n" + bytes(range(256))},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: the first line is not UTF-8 text; is this a CSV file?",
    ),
    Case(
        "random bytes named .parquet",
        {"d.parquet": bytes(range(256)) * 4},
        fit("d.parquet", "--target", "y"),
        2,
        "d.parquet: cannot read it:",
    ),
    Case(
        "random bytes named .csv.gz",
        {"d.csv.gz": b"\x1f\x8b" + bytes(range(200))},
        fit("d.csv.gz", "--target", "y"),
        2,
        "d.csv.gz: cannot read it:",
    ),
    Case(
        "text column",
        {"d.csv": "a,s,y\n1,foo,3\n4,bar,6\n7,baz,9\n"},
        fit("d.csv", "--target", "y", "--categorical", "error"),
        2,
        "d.csv: column 's', row 1: 'foo' is not a number",
    ),
    Case(
        "list column (Parquet)",
        {
            "d.parquet": _parquet(
                pd.DataFrame(
                    {"a": [1.0, 2, 3], "l": [[1, 2], [3], [4]], "y": [1.0, 2, 3]}
                )
            )
        },
        fit("d.parquet", "--target", "y"),
        2,
        "d.parquet: column 'l' has type list<element: int64>, not numbers",
    ),
    Case(
        "nested column (Parquet)",
        {
            "d.parquet": _parquet(
                pd.DataFrame(
                    {
                        "a": [1.0, 2, 3],
                        "n": [{"x": 1}, {"x": 2}, {"x": 3}],
                        "y": [1.0, 2, 3],
                    }
                )
            )
        },
        fit("d.parquet", "--target", "y"),
        2,
        "d.parquet: column 'n' has type struct<x: int64>, not numbers",
    ),
    Case(
        "pandas index column (CSV)",
        {"d.csv": "," + GOOD.replace("\n", "\n0,")[:-2]},
        fit("d.csv", "--target", "y"),
        2,
        "d.csv: the first column has no name (''): it looks like an index written "
        "by pandas' to_csv; write the file with index=False, or name the feature "
        "columns (features=, --features)",
    ),
    Case(
        "pandas index column (CSV), features named",
        {"d.csv": "," + GOOD.replace("\n", "\n0,")[:-2]},
        fit("d.csv", "--target", "y", "--features", "a,b"),
        0,
        "",
    ),
    Case(
        "pandas index (Parquet) is skipped",
        {"d.parquet": _parquet(pd.read_csv(io.StringIO(GOOD)).set_axis(range(5, 25)))},
        fit("d.parquet", "--target", "y", "--json"),
        0,
        "",
    ),
    # -- the problem --
    Case(
        "fewer rows than parameters",
        {"d.csv": "a,b,c,y\n1,2,3,4\n2,3,5,7\n"},
        fit("d.csv", "--target", "y"),
        0,
        "tapereg: warning: 2 samples (rows) for 4 parameters (3 coefficients + "
        "intercept) per target: the least-squares fit is not determined, and the "
        "minimum-norm solution is returned; add rows, use fewer features, or set "
        "--alpha > 0",
    ),
    Case(
        "constant column",
        {
            "d.csv": "a,c,y\n"
            + "".join(f"{x},0.1,{2 * x + (x % 3)}\n" for x in range(30))
        },
        fit("d.csv", "--target", "y"),
        0,
        "tapereg: warning: column 'c' is constant; its coefficient is 0",
    ),
    Case(
        "constant target",
        {"d.csv": "a,y\n" + "".join(f"{x},4\n" for x in range(30))},
        fit("d.csv", "--target", "y"),
        0,
        "tapereg: warning: target 'y' is constant (every value is 4): every "
        "coefficient is 0 and R² is undefined",
    ),
    Case(
        "collinear columns, gradient descent",
        {
            "d.csv": "a,b,c,y\n"
            + "".join(
                f"{x},{2 * x + 1},{(x * 7) % 5},{x + (x % 3)}\n" for x in range(30)
            )
        },
        fit("d.csv", "--target", "y", "--optimizer", "gd"),
        0,
        "tapereg: warning: columns 'a', 'b' are collinear (linearly dependent); the "
        "minimum-norm solution is returned",
    ),
    Case(
        "not converged within --epochs",
        {"d.csv": NOISY},
        fit("d.csv", "--target", "y", "--epochs", "3", "--optimizer", "gd"),
        0,
        "tapereg: warning: training stopped at --epochs 3 before converging (loss ",
    ),
    # -- the parameters --
    Case(
        "negative epochs",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--epochs", "-3"),
        2,
        "argument --epochs: must be at least 1, got -3",
    ),
    Case(
        "learning rate 0",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--learning-rate", "0"),
        2,
        "argument --learning-rate: must be a number > 0, got 0",
    ),
    Case(
        "negative learning rate",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--learning-rate", "-0.5"),
        2,
        "argument --learning-rate: must be a number > 0, got -0.5",
    ),
    Case(
        "learning rate not a number",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--learning-rate", "fast"),
        2,
        "argument --learning-rate: expected a number, got 'fast'",
    ),
    Case(
        "batch size 0",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--batch-size", "0"),
        2,
        "argument --batch-size: must be at least 1, got 0",
    ),
    Case(
        "unknown optimizer",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--optimizer", "sgdx"),
        2,
        "argument --optimizer: invalid choice: 'sgdx'",
    ),
    Case(
        "unknown option",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--lr", "1"),
        2,
        "unrecognized arguments: --lr 1",
    ),
    # -- divergence: no model file is written --
    Case(
        "divergence",
        {"d.csv": NOISY},
        fit(
            "d.csv",
            "--target",
            "y",
            "--learning-rate",
            "10",
            "--optimizer",
            "gd",
            "--engine",
            "data",
            "--no-standardize",
            "--save",
            "m.json",
            "--plot",
            "p.png",
        ),
        2,
        "(--learning-rate 10); lower --learning-rate or standardize the features",
        creates=["m.json", "p.png"],
    ),
]


def predict(*args):
    return ["predict", *args]


def _model_files(folder) -> None:
    """A model of a, b → y saved to good.json, and its damaged variants."""
    frame = pd.read_csv(io.StringIO(NOISY))
    model = LinearRegressor(solver="exact").fit(frame[["a", "b"]], frame["y"])
    save(model, folder / "good.json")
    raw = (folder / "good.json").read_bytes()
    (folder / "truncated.json").write_bytes(raw[: len(raw) // 2])
    document = json.loads(raw)
    position = raw.index(b'"coef": [')
    digit = next(i for i in range(position, len(raw)) if raw[i : i + 1].isdigit())
    changed = bytearray(raw)
    changed[digit] = ord("7") if raw[digit] != ord("7") else ord("3")
    (folder / "changed.json").write_bytes(bytes(changed))
    (folder / "foreign.json").write_text(json.dumps({"weights": [1, 2], "bias": 0}))
    (folder / "random.json").write_bytes(np.random.default_rng(0).bytes(700))
    document["format_version"] = 99
    (folder / "newer.json").write_text(json.dumps(document))
    unnamed = LinearRegressor(solver="exact").fit(frame[["a", "b"]].to_numpy(), frame.y)
    save(unnamed, folder / "unnamed.json")


PREDICT_CASES = [
    Case(
        "model truncated",
        {"d.csv": GOOD},
        predict("truncated.json", "d.csv"),
        2,
        "truncated.json: the model file is truncated (it ends inside the JSON)",
    ),
    Case(
        "model with one byte changed",
        {"d.csv": GOOD},
        predict("changed.json", "d.csv"),
        2,
        "changed.json: the model file is corrupt (checksum mismatch)",
    ),
    Case(
        "foreign JSON as model",
        {"d.csv": GOOD},
        predict("foreign.json", "d.csv"),
        2,
        "foreign.json: not a tapereg model file",
    ),
    Case(
        "random bytes as model",
        {"d.csv": GOOD},
        predict("random.json", "d.csv"),
        2,
        "random.json: not a tapereg model file (not JSON)",
    ),
    Case(
        "model from a newer tapereg",
        {"d.csv": GOOD},
        predict("newer.json", "d.csv"),
        2,
        "newer.json: written by a newer tapereg (model format 99, this one reads "
        "up to 1); upgrade tapereg",
    ),
    Case(
        "no model file",
        {"d.csv": GOOD},
        predict("none.json", "d.csv"),
        2,
        "none.json: no such model file",
    ),
    Case(
        "features named differently",
        {"d.csv": "a,c\n1,2\n"},
        predict("good.json", "d.csv"),
        2,
        "d.csv: no feature column 'b' (columns: a, c)",
    ),
    Case(
        "fewer features than the unnamed model takes",
        {"d.csv": "a\n1\n"},
        predict("unnamed.json", "d.csv"),
        2,
        "d.csv: the model takes 2 unnamed features but the file has 1 columns",
    ),
    Case(
        "bad cell in prediction data",
        {"d.csv": "a,b\n1,2\n3,oops\n"},
        predict("good.json", "d.csv", "--out", "out.csv"),
        2,
        "d.csv: column 'b', row 2: 'oops' is not a number",
        creates=["out.csv"],
    ),
    Case(
        "predictions are written",
        {"d.csv": "a,b\n1,2\n3,4\n"},
        predict("good.json", "d.csv", "--out", "out.csv"),
        0,
        "",
    ),
]

CLUSTER_CASES = [
    Case(
        "multi-worker without TF_CONFIG",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--strategy", "multi-worker", "--save", "m.json"),
        2,
        "strategy multi-worker needs the cluster in the TF_CONFIG environment "
        "variable, which is not set",
        creates=["m.json"],
    ),
]

# Outputs are checked before any reading or training: an input is never written
# over, two outputs never share a file, a missing folder costs a second.
PATH_CASES = [
    Case(
        "--save over the data",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--save", "d.csv"),
        2,
        "--save d.csv would overwrite the data file d.csv; write the output "
        "somewhere else",
    ),
    Case(
        "--plot over the data, spelled differently",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--plot", "./sub/../d.csv"),
        2,
        "--plot ./sub/../d.csv would overwrite the data file d.csv",
    ),
    Case(
        "--save over a file a glob matched",
        {"d1.csv": GOOD, "d2.csv": GOOD},
        fit("d*.csv", "--target", "y", "--save", "d2.csv"),
        2,
        "--save d2.csv would overwrite the data file d2.csv",
    ),
    Case(
        "--save and --plot the same file",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--save", "m.json", "--plot", "m.json"),
        2,
        "--save m.json and --plot m.json are the same path; give each output its own",
        creates=["m.json"],
    ),
    Case(
        "--save into a missing folder",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--save", "nodir/m.json"),
        2,
        "--save nodir/m.json: no folder nodir; create it first",
    ),
    Case(
        "--plot is a folder",
        {"d.csv": GOOD, "pics/keep": ""},
        fit("d.csv", "--target", "y", "--plot", "pics"),
        2,
        "--plot pics: is a folder; name a file in it",
    ),
    Case(
        "--logdir is a file",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--logdir", "d.csv"),
        2,
        "--logdir d.csv would overwrite the data file d.csv",
    ),
    Case(
        "--checkpoint-dir inside a file",
        {"d.csv": GOOD, "notes.txt": "x"},
        fit("d.csv", "--target", "y", "--checkpoint-dir", "notes.txt/ck"),
        2,
        "--checkpoint-dir notes.txt/ck: notes.txt is not a folder",
    ),
    Case(
        "predict --out over the data",
        {"d.csv": GOOD},
        predict("good.json", "d.csv", "--out", "d.csv"),
        2,
        "--out d.csv would overwrite the data file d.csv",
    ),
    Case(
        "predict --out over the model",
        {"d.csv": GOOD},
        predict("good.json", "d.csv", "--out", "good.json"),
        2,
        "--out good.json would overwrite the model file good.json",
    ),
    Case(
        "predict --out - is standard output",
        {"d.csv": "a,b\n1,2\n3,4\n"},
        predict("good.json", "d.csv", "--out", "-"),
        0,
        "",
        creates=["-"],
    ),
    Case(
        "export over the model",
        {},
        ["export", "good.json", "good.json"],
        2,
        "the export folder good.json would overwrite the model file good.json",
    ),
    Case(
        "export over the folder holding the model",
        {},
        ["export", "good.json", "."],
        2,
        "the export folder . would overwrite the model file good.json",
    ),
    Case(
        "demo --plot into a missing folder",
        {},
        ["demo", "--plot", "nodir/p.png"],
        2,
        "--plot nodir/p.png: no folder nodir; create it first",
    ),
    Case(
        "a negative seed for the demo",
        {},
        ["demo", "--seed", "-1"],
        2,
        "argument --seed: must be an integer from 0 to 4294967295, got -1",
    ),
    # -- the other inputs of issue 15 --
    Case(
        "the target among the features",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--features", "a,y"),
        2,
        "column 'y' is both a target and a feature; leave it out of the features",
    ),
    Case(
        "a negative seed",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--seed", "-1", "--batch-size", "4"),
        2,
        "argument --seed: must be an integer from 0 to 4294967295, got",
    ),
    Case(
        "a seed beyond NumPy's",
        {"d.csv": GOOD},
        fit("d.csv", "--target", "y", "--seed", "4294967296"),
        2,
        "argument --seed: must be an integer from 0 to 4294967295, got",
    ),
    Case(
        "a file whose name begins with -",
        {"-lead.csv": GOOD},
        fit("-lead.csv", "--target", "y"),
        2,
        "(-lead.csv reads as an option; for a file of that name write ./-lead.csv, "
        "or put -- before it)",
    ),
    Case(
        "batch larger than the data",
        {"d.csv": NOISY},
        fit("d.csv", "--target", "y", "--batch-size", "500"),
        0,
        "tapereg: warning: --batch-size 500 is larger than the 20 rows; training "
        "uses full batches of all 20",
    ),
    Case(
        "one row, as JSON",
        {"d.csv": "a,y\n1,2\n"},
        fit("d.csv", "--target", "y", "--solver", "exact", "--json"),
        0,
        "",
    ),
]

CASES = FIT_CASES + PREDICT_CASES + CLUSTER_CASES + PATH_CASES


# Run as real processes (the rest in-process): a data error before training, an
# argparse usage error (through the script's exit), a model file's error, a warning
# after training and a failure in the middle of it (nothing written).
IN_A_PROCESS = {
    "missing value",
    "unknown option",
    "model truncated",
    "constant column",
    "divergence",
}


def _run(folder, case):
    # As a user runs it: the CLI keeps TensorFlow's start-up chatter off stderr
    # unless TF_CPP_MIN_LOG_LEVEL is set.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_CONFIG")
    }
    command = [sys.executable, "-m", "tapereg", *case.args]
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, env=env, timeout=300
    )


def _state():
    """What a command could leave changed in this process (warnings filters are
    restored around each case, as pytest does around each test)."""
    logger = logging.getLogger("tapereg")
    return (
        dict(os.environ),
        os.getcwd(),
        list(logger.handlers),
        logger.level,
        list(logging.getLogger().handlers),
    )


def _main_in(folder, case):
    """``main(argv)`` in this process, as the script calls it: in the case's folder,
    without TF_CONFIG, standard output and error captured. An exception escaping
    ``main`` is written to the captured stderr as its traceback."""
    import tensorflow  # noqa: F401  (its import sets variables of its own, once)

    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        warnings.catch_warnings(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        patch.chdir(folder)
        patch.delenv("TF_CONFIG", raising=False)
        before = _state()
        try:
            status = main(list(case.args))
        except SystemExit as stop:  # argparse's usage errors
            status = stop.code
        except Exception:
            status = None
            traceback.print_exc()
        after = _state()
    # Nothing a command sets outlives it (a later case would see it).
    assert after == before, case.id
    return subprocess.CompletedProcess(
        case.args, status, out.getvalue(), err.getvalue()
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The model files of ``_model_files``, made once; each case gets copies."""
    folder = tmp_path_factory.mktemp("models")
    _model_files(folder)
    return folder


def _case_folder(tmp_path_factory, models, k, case):
    folder = tmp_path_factory.mktemp(f"case{k}")
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if case in PREDICT_CASES or "good.json" in case.args:
        shutil.copytree(models, folder, dirs_exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory, models):
    """Every case's command, run in its own folder: the real processes in the
    background while the in-process cases run one after another."""
    assert {case.id for case in CASES} >= IN_A_PROCESS
    folders = {
        case.id: _case_folder(tmp_path_factory, models, k, case)
        for k, case in enumerate(CASES)
    }
    with ThreadPoolExecutor(4) as pool:
        started = {
            case.id: pool.submit(_run, folders[case.id], case)
            for case in CASES
            if case.id in IN_A_PROCESS
        }
        runs = {
            case.id: _main_in(folders[case.id], case)
            for case in CASES
            if case.id not in IN_A_PROCESS
        }
        runs.update({name: future.result() for name, future in started.items()})
    return {case.id: (folders[case.id], runs[case.id]) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_gives_one_clear_line_and_the_exit_status(results, case):
    folder, run = results[case.id]
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == case.status, run.stderr
    # Progress lines (stderr is not a terminal here) are not messages.
    lines = [
        line
        for line in run.stderr.splitlines()
        if line.strip() and not PROGRESS.match(line)
    ]
    if case.status == 2:
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith("tapereg"), lines
        assert "error: " in lines[0]
        assert case.stderr in lines[0]
    else:
        assert all(line.startswith("tapereg: warning: ") for line in lines), lines
        assert case.stderr in run.stderr
    for name in case.creates:
        assert not (folder / name).exists(), f"{name} was written"
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_predictions_written_are_the_models(results):
    folder, _ = results["predictions are written"]
    out = pd.read_csv(folder / "out.csv")
    model = tapereg.load(folder / "good.json")
    np.testing.assert_allclose(
        out.iloc[:, 0], model.predict(pd.DataFrame({"a": [1, 3], "b": [2, 4]}))
    )


def test_a_parquet_index_is_not_a_feature(results):
    _, run = results["pandas index (Parquet) is skipped"]
    assert json.loads(run.stdout)["feature_names"] == ["a", "b"]


def test_a_refused_output_leaves_the_inputs_as_they_were(results):
    for case in PATH_CASES:
        folder, _ = results[case.id]
        for name, content in case.files.items():
            if name.endswith(".csv"):
                assert (folder / name).read_text() == content, (case.id, name)
    folder, _ = results["predict --out over the model"]
    assert tapereg.load(folder / "good.json").n_features_in_ == 2


def test_predictions_go_to_standard_output_with_out_dash(results):
    _, run = results["predict --out - is standard output"]
    assert run.stdout.splitlines()[0] == "y" and len(run.stdout.splitlines()) == 3


def test_json_is_strict_and_undefined_is_null(results):
    _, run = results["one row, as JSON"]
    report = json.loads(run.stdout, parse_constant=pytest.fail)
    assert report["metrics"]["r2"] is None  # R² of one row is undefined
    assert report["metrics"]["mse"] == 0.0


def test_standard_input_is_data_for_fit_and_predict(tmp_path, monkeypatch):
    """A real pipe into ``tapereg fit -`` once; predict's standard input, and a bad
    cell named ``<stdin>``, in-process."""
    (tmp_path / "d.csv").write_text(NOISY)
    exact = ["--target", "y", "--solver", "exact", "--json"]
    from_file = _main_in(tmp_path, Case("file", {}, fit("d.csv", *exact), 0, ""))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    piped = subprocess.run(
        [sys.executable, "-m", "tapereg", *fit("-", *exact, "--save", "m.json")],
        cwd=tmp_path,
        input=NOISY,
        capture_output=True,
        text=True,
        env=env,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["coef"] == json.loads(from_file.stdout)["coef"]

    def from_stdin(args, text):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        return _main_in(tmp_path, Case("stdin", {}, args, 0, ""))

    predicted = from_stdin(predict("m.json", "-"), "a,b\n1,2\n3,4\n")
    assert predicted.returncode == 0, predicted.stderr
    model = tapereg.load(tmp_path / "m.json")
    expected = model.predict(pd.DataFrame({"a": [1, 3], "b": [2, 4]}))
    np.testing.assert_allclose(pd.read_csv(io.StringIO(predicted.stdout)).y, expected)
    bad = from_stdin(
        fit("-", "--target", "y", "--categorical", "error"), "a,b,y\n1,2,3\n1,x,3\n"
    )
    assert bad.returncode == 2
    assert (
        bad.stderr
        == "tapereg: error: <stdin>: column 'b', row 2: 'x' is not a number\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(GOOD)
    path.chmod(0)
    case = Case("unreadable", {}, fit("d.csv", "--target", "y"), 2, "")
    run = _main_in(tmp_path, case)
    assert run.returncode == 2
    assert "d.csv: cannot read it" in run.stderr
    assert len(run.stderr.splitlines()) == 1


# -- the same cases through the API: typed exceptions under TaperegError --------


def _table(tmp_path, text: str, name: str = "d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return open_table(path, "y").read()


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", DataError, "the file is empty"),
        ("a,y\n1,2\n\n3,4\n", DataError, "line 3: blank line between data rows"),
        ("a,b,y\n1,2,3\n4,5,6,7\n", DataError, "row 2: 4 values where the header"),
        ("a,b,y\n1,x,3\n", DataError, "column 'b', row 1: 'x' is not a number"),
        (",a,y\n0,1,2\n1,2,3\n", DataError, "the first column has no name"),
    ],
)
def test_files_raise_typed_errors(tmp_path, text, error, message):
    with pytest.raises(error, match=message) as raised:
        _table(tmp_path, text)
    assert isinstance(raised.value, TaperegError) and isinstance(
        raised.value, ValueError
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_iter": -3}, "max_iter must be an integer >= 1, got -3"),
        (
            {"learning_rate": 0.0},
            'learning_rate must be "auto" or a number > 0, got 0.0',
        ),
        ({"learning_rate": -1}, 'learning_rate must be "auto" or a number > 0, got -1'),
        ({"batch_size": 0}, "batch_size must be None or an integer >= 1, got 0"),
        ({"optimizer": "sgdx"}, "optimizer must be one of"),
        (
            {"dtype": "float16"},
            """dtype must be "float32" or "float64", got 'float16'""",
        ),
    ],
)
def test_bad_parameters_name_the_parameter_and_the_value(params, message):
    X = np.arange(20.0).reshape(10, 2)
    with pytest.raises(ParameterError, match=message):
        LinearRegressor(**params).fit(X, X[:, 0])


def test_divergence_is_a_typed_error_naming_the_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * 100
    y = X @ [1.0, 2.0, 3.0]
    model = LinearRegressor(
        learning_rate=1.0, optimizer="gd", standardize=False, engine="data"
    )
    with pytest.raises(DivergenceError, match=r"at epoch \d+ \(learning_rate=1"):
        model.fit(X, y)


def test_float32_overflow_is_named_in_the_api():
    X = np.ones((10, 2))
    X[:, 0] = np.arange(10.0)
    X[4, 1] = 1e39
    with pytest.raises(DataError, match=r"X column 1, row 4: 1e\+39 overflows float32"):
        LinearRegressor(standardize=False, engine="data").fit(X, np.arange(10.0))
    # Standardized, the same value trains (and float64 never overflows).
    LinearRegressor(engine="data").fit(X, np.arange(10.0))


def test_predict_with_other_features_is_a_data_error():
    frame = pd.read_csv(io.StringIO(NOISY))
    model = LinearRegressor(solver="exact").fit(frame[["a", "b"]], frame.y)
    with pytest.raises(
        DataError,
        match="X has 1 features, but LinearRegressor is expecting 2 features as input",
    ):
        unnamed = LinearRegressor(solver="exact").fit(
            frame[["a", "b"]].to_numpy(), frame.y
        )
        unnamed.predict(frame[["a"]].to_numpy())
    with pytest.raises(
        DataError,
        match=r"Feature names unseen at fit time: c\. Feature names seen at "
        r"fit time, yet now missing: b\.",
    ):
        model.predict(frame[["a", "b"]].rename(columns={"b": "c"}))


@pytest.mark.parametrize(
    ("build", "warning", "message"),
    [
        (
            lambda X: X.__setitem__((slice(None), 1), 0.1),
            ConstantColumnWarning,
            "column 'x1' is constant; its coefficient is 0",
        ),
        (
            lambda X: X.__setitem__((slice(None), 2), X[:, 0] - X[:, 1]),
            CollinearityWarning,
            "columns 'x0', 'x1', 'x2' are collinear",
        ),
    ],
)
def test_degenerate_columns_warn_and_still_fit(build, warning, message):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    build(X)
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=100)
    with pytest.warns(warning, match=message):
        model = LinearRegressor(dtype="float64").fit(X, y)
    best = np.linalg.lstsq(np.column_stack([X, np.ones(100)]), y, rcond=None)[0]
    np.testing.assert_allclose(model.predict(X), X @ best[:3] + best[3], atol=1e-8)


def test_constant_target_warns_and_predicts_it():
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.warns(ConstantTargetWarning, match="target 'y' is constant"):
        model = LinearRegressor().fit(X, np.full(30, 4.0))
    np.testing.assert_array_equal(model.coef_, 0.0)
    assert model.intercept_ == 4.0


def test_a_model_file_never_loads_half_changed(tmp_path):
    """Any single byte changed: a ModelFileError, or (whitespace) the same model."""
    frame = pd.read_csv(io.StringIO(NOISY))
    model = LinearRegressor(solver="exact").fit(frame[["a", "b"]], frame.y)
    path = tmp_path / "m.json"
    save(model, path)
    raw = path.read_bytes()
    expected = model.predict(frame[["a", "b"]])
    rng = np.random.default_rng(1)
    for position in rng.choice(len(raw), size=60, replace=False):
        changed = bytearray(raw)
        changed[position] = (changed[position] + 1 + rng.integers(255)) % 256
        path.write_bytes(bytes(changed))
        try:
            again = tapereg.load(path)
        except ModelFileError:
            continue
        np.testing.assert_array_equal(again.predict(frame[["a", "b"]]), expected)


# -- issue 15's inputs through the API -------------------------------------------


def test_the_target_among_the_features_is_refused_by_the_readers(tmp_path):
    (tmp_path / "d.csv").write_text(GOOD)
    with pytest.raises(DataError, match="column 'y' is both a target and a feature"):
        tapereg.read_table(tmp_path / "d.csv", "y", ["a", "y"])
    with pytest.raises(DataError, match="feature column 'a' is named twice"):
        open_table(tmp_path / "d.csv", "y", ["a", "a"])


@pytest.mark.parametrize("batch_size", [None, 4])
@pytest.mark.parametrize("seed", ["abc", -1, 2**32, 1.5, True])
def test_a_bad_seed_is_refused_on_every_path(seed, batch_size):
    X = np.arange(20.0).reshape(10, 2)
    model = LinearRegressor(random_state=seed, batch_size=batch_size)
    with pytest.raises(ParameterError, match=r"random_state must be None, an integer"):
        model.fit(X, X[:, 0])
    with pytest.raises(ParameterError, match=r"random_state must be None"):
        model.fit_stream([(X, X[:, 0])])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_seeds_across_numpys_range_are_taken():
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = X @ [1.0, 2.0]
    for seed in (0, 2**32 - 1, np.int64(7), np.random.RandomState(3)):
        model = LinearRegressor(random_state=seed, batch_size=8, max_iter=5)
        model.fit(X, y)  # no error, whatever the seed's type


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (["a", "b"] * 5, "feature column 'c' holds text (str, such as 'a')"),
        (
            pd.Categorical(["a", "b"] * 5),
            "feature column 'c' holds text (category, such as 'a')",
        ),
        (
            pd.date_range("2020-01-01", periods=10),
            "feature column 'c' holds dates or times (datetime64",
        ),
    ],
    ids=["text", "category", "datetime"],
)
def test_dataframe_columns_that_are_not_numbers_are_named(column, message):
    X = pd.DataFrame({"a": np.arange(10.0), "c": column})
    y = np.arange(10.0)
    with pytest.raises(DataError, match=re.escape(message)):
        LinearRegressor(solver="exact", categorical="error").fit(X, y)
    fitted = LinearRegressor(solver="exact").fit(X[["a"]].assign(c=y**2), y)
    with pytest.raises(DataError, match=re.escape(message)):
        fitted.predict(X)


def test_a_text_target_is_named():
    X = pd.DataFrame({"a": np.arange(4.0)})
    with pytest.raises(DataError, match="target column 't' holds text"):
        LinearRegressor(solver="exact").fit(X, pd.Series(list("abab"), name="t"))


def test_numbers_held_as_objects_still_fit():
    X = pd.DataFrame({"a": np.arange(6.0), "c": [1.0, 4, 2, 8, 5, 7]}).astype(object)
    y = X.a.astype(float) * 2 + X.c.astype(float)
    model = LinearRegressor(solver="exact").fit(X, y)
    np.testing.assert_allclose(model.coef_, [2.0, 1.0])


@pytest.mark.parametrize("stream", [False, True])
def test_a_batch_larger_than_the_data_is_the_full_batch_said_once(stream):
    X = np.random.default_rng(1).normal(size=(30, 2))
    y = X @ [1.0, -2.0] + 0.5
    model = LinearRegressor(batch_size=100)
    with pytest.warns(UserWarning) as caught:
        model.fit_stream([(X, y)]) if stream else model.fit(X, y)
    messages = [str(w.message) for w in caught]
    expected = (
        "batch_size=100 is larger than the 30 rows; training uses full batches "
        "of all 30"
    )
    assert messages.count(expected) == 1
    full = LinearRegressor().fit(X, y)
    assert model.engine_ == full.engine_ == "gram"
    np.testing.assert_allclose(model.coef_, full.coef_)


@pytest.mark.parametrize(
    ("api", "cli"),
    [
        (
            "training stopped at max_iter=3 before converging; raise max_iter, or "
            "use solver='exact'",
            "training stopped at --epochs 3 before converging; raise --epochs, or "
            "use --solver exact",
        ),
        ("add rows, or set alpha > 0", "add rows, or set --alpha > 0"),
        (
            "engine='gram' trains on the full batch; drop batch_size",
            "--engine gram trains on the full batch; drop --batch-size",
        ),
        ("resume=True needs checkpoint_dir", "--resume needs --checkpoint-dir"),
        (
            "heavy-ball momentum on the gram engine",
            "heavy-ball momentum on the gram engine",
        ),
    ],
)
def test_the_cli_speaks_of_its_flags(api, cli):
    from tapereg.cli.vocabulary import in_cli_terms

    assert in_cli_terms(api) == cli


def test_strict_json_values():
    from tapereg.io.json_values import strict_json

    value = {"a": [1.0, float("nan"), np.float32("inf")], "b": (np.int64(2), None)}
    assert json.dumps(strict_json(value), allow_nan=False) == (
        '{"a": [1.0, null, null], "b": [2, null]}'
    )
