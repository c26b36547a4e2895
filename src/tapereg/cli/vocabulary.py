"""The estimator's words in the command line's: ``max_iter`` is ``--epochs`` there.

Errors and warnings are written once, in the API's terms (``max_iter=1000``,
``solver='exact'``, ``set alpha > 0``), because most come from the estimator; the
CLI shows them in the terms its user typed (``--epochs 1000``, ``--solver exact``,
``set --alpha > 0``). Only parameter names are translated, and only where they read
as parameters: followed by ``=``, a comparison, or spelled with an underscore.
"""

from __future__ import annotations

import re

# Parameter → flag, for every flag that sets a LinearRegressor parameter.
FLAGS = {
    "learning_rate": "--learning-rate",
    "max_iter": "--epochs",
    "optimizer": "--optimizer",
    "engine": "--engine",
    "momentum": "--momentum",
    "nesterov": "--nesterov",
    "batch_size": "--batch-size",
    "standardize": "--standardize",
    "fit_intercept": "--intercept",
    "alpha": "--alpha",
    "l1_ratio": "--l1-ratio",
    "tol": "--tol",
    "dtype": "--dtype",
    "random_state": "--seed",
    "strategy": "--strategy",
    "solver": "--solver",
    "logdir": "--logdir",
    "checkpoint_dir": "--checkpoint-dir",
    "checkpoint_every": "--checkpoint-every",
    "resume": "--resume",
    "compute_statistics": "--no-statistics",
    "cov_type": "--cov-type",
    "formula": "--formula",
    "categorical": "--categorical",
    "missing": "--missing",
    "positive": "--positive",
    "loss": "--loss",
    "epsilon": "--epsilon",
    "quantile": "--quantile",
}

# Booleans whose flag is a negation: name=value -> how the CLI says it.
SWITCHES = {
    ("compute_statistics", "False"): "--no-statistics",
    ("fit_intercept", "False"): "--no-intercept",
    ("fit_intercept", "True"): "--intercept",
    ("standardize", "False"): "--no-standardize",
    ("standardize", "True"): "--standardize",
}

_NAME = "|".join(sorted(map(re.escape, FLAGS), key=len, reverse=True))
# name=value (a quoted value loses its quotes), or name before a comparison.
_ASSIGNED = re.compile(rf"(?<![\w.-])({_NAME})=(?:'([^']*)'|\"([^\"]*)\"|([^\s,;)]+))")
_COMPARED = re.compile(rf"(?<![\w.-])({_NAME})(?=\s*(?:[<>]=?|must be)\s)")
_UNDERSCORED = re.compile(rf"(?<![\w.-])({'|'.join(n for n in FLAGS if '_' in n)})\b")


def in_cli_terms(text: str) -> str:
    """``text`` with the estimator's parameter names written as the CLI's flags."""

    def assigned(match) -> str:
        value = next(v for v in match.groups()[1:] if v is not None)
        if (match[1], value) in SWITCHES:
            return SWITCHES[match[1], value]
        return FLAGS[match[1]] if value == "True" else f"{FLAGS[match[1]]} {value}"

    text = _ASSIGNED.sub(assigned, text)
    text = _COMPARED.sub(lambda m: FLAGS[m[1]], text)
    return _UNDERSCORED.sub(lambda m: FLAGS[m[1]], text)
