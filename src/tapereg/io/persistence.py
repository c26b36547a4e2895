"""Saving and loading fitted models: one self-describing JSON file, never a pickle.

The file holds a format name and version, the tapereg version, and a ``content``
object (names, coefficients, standardization, settings, training record, metrics)
with its SHA-256, so a truncated or edited file is refused. Written atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
import os

import numpy as np

from ..errors import ModelFileError
from ..fitting.outcome import FitOutcome, TrainingRecord
from ..numerics.linear import target_names as default_target_names
from ..numerics.standardization import Standardization
from ..numerics.statistics import OLSStatistics
from ..parallel.cluster import strategy_name
from ..runtime.atomic import atomic_write

FORMAT = "tapereg.model"
FORMAT_VERSION = 1


def _canonical(content: dict) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode()


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _json_params(params: dict) -> dict:
    """Estimator parameters as JSON values (a RandomState is not kept; a
    ``tf.distribute`` strategy object is kept as the name of its kind)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.RandomState):
            value = None
        elif key == "strategy" and not isinstance(value, str | type(None)):
            value = strategy_name(value)
        elif isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)
        out[key] = value
    return out


def model_content(estimator, *, metrics: dict | None = None) -> dict:
    """Everything about a fitted LinearRegressor that a file keeps."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    coef = np.atleast_2d(np.asarray(estimator.coef_, np.float64))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, np.float64))
    names = getattr(estimator, "feature_names_in_", None)
    targets = getattr(estimator, "target_names_", None)
    scaling = getattr(estimator, "standardization_", None)
    return {
        "feature_names": None if names is None else [str(n) for n in names],
        "n_features": int(estimator.n_features_in_),
        "target_names": default_target_names(targets, coef.shape[0]),
        "single_target": np.ndim(estimator.coef_) == 1,
        "coef": coef.tolist(),
        "intercept": intercept.tolist(),
        "dtype": str(np.dtype(estimator.dtype)),
        "standardization": None
        if scaling is None
        else {
            field: getattr(scaling, field).tolist()
            for field in ("x_mean", "x_scale", "y_mean", "y_scale")
        },
        "params": _json_params(estimator.get_params()),
        "n_iter": int(estimator.n_iter_),
        "learning_rate": _finite_or_none(estimator.learning_rate_),
        "loss_curve": [float(v) for v in estimator.loss_curve_],
        "metrics": metrics,
        "statistics": _statistics_content(getattr(estimator, "statistics_", None)),
    }


STATISTICS_FIELDS = (
    "coef",
    "std_err",
    "nobs",
    "df_model",
    "df_resid",
    "rsquared",
    "rsquared_adj",
    "fvalue",
    "f_pvalue",
    "resid_std_err",
)


def _json_numbers(value):
    """An array or scalar as (nested lists of) JSON numbers; NaN and ±inf as null."""
    array = np.asarray(value, np.float64)
    if array.ndim == 0:
        return float(array) if np.isfinite(array) else None
    return [_json_numbers(item) for item in array]


def _statistics_content(stats) -> dict | None:
    """OLSStatistics as JSON values (a perfect fit has infinite t and F: null)."""
    if stats is None:
        return None
    content = {
        field: _json_numbers(getattr(stats, field)) for field in STATISTICS_FIELDS
    }
    content["terms"] = list(stats.terms)
    return content


def save(estimator, path, *, metrics: dict | None = None) -> None:
    """Write a fitted LinearRegressor to ``path`` (JSON, atomically).

    Parameters
    ----------
    estimator : LinearRegressor, fitted
    path : str or PathLike
    metrics : dict, optional
        Metrics to keep with the model (the CLI stores its training metrics).
    """
    from .. import __version__

    content = model_content(estimator, metrics=metrics)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tapereg_version": __version__,
        "sha256": hashlib.sha256(_canonical(content)).hexdigest(),
        "content": content,
    }
    with atomic_write(path, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=1, allow_nan=False)
        file.write("\n")


def read_model_file(path) -> dict:
    """The verified ``content`` of a model file, or a ModelFileError saying why not."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: not a tapereg model file (not JSON)") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a tapereg model file")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written by a newer tapereg (model format {version}, this "
            f"one reads up to {FORMAT_VERSION}); upgrade tapereg"
        )
    content = document.get("content")
    if (
        not isinstance(content, dict)
        or document.get("sha256") != hashlib.sha256(_canonical(content)).hexdigest()
    ):
        raise ModelFileError(f"{path}: the model file is corrupt (checksum mismatch)")
    return content


def load(path):
    """Read a model file written by :func:`save` into a fitted LinearRegressor.

    Raises
    ------
    ModelFileError
        Missing, truncated, altered, foreign or newer-format file.
    """
    from ..estimator import LinearRegressor

    content = read_model_file(path)
    try:
        estimator = LinearRegressor(**content["params"])
        outcome = _outcome(content)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(
            f"{os.fspath(path)}: malformed model content ({error})"
        ) from None
    return estimator._set_fitted(outcome, single_target=content["single_target"])


def _outcome(content: dict) -> FitOutcome:
    """The FitOutcome a model file describes."""
    coef = np.asarray(content["coef"], np.float64)
    intercept = np.asarray(content["intercept"], np.float64)
    n_features = int(content["n_features"])
    if coef.shape != (len(intercept), n_features):
        raise ValueError("coefficient shapes disagree")
    rate = content["learning_rate"]
    scaling = content["standardization"]
    return FitOutcome(
        coef=coef.T,
        intercept=intercept,
        single_target=bool(content["single_target"]),
        feature_names=content["feature_names"],
        target_names=list(content["target_names"]),
        training=TrainingRecord(
            n_iter=int(content["n_iter"]),
            loss_curve=np.asarray(content["loss_curve"], np.float64),
            learning_rate=float("nan") if rate is None else float(rate),
            standardization=None
            if scaling is None
            else Standardization(
                **{k: np.asarray(v, np.float64) for k, v in scaling.items()}
            ),
        ),
        statistics=None
        if content.get("statistics") is None
        else _statistics(content["statistics"]),
        metrics=content.get("metrics"),
    )


def _statistics(content: dict) -> OLSStatistics:
    """The OLSStatistics a model file keeps."""

    def array(value):
        return np.asarray(value, dtype=np.float64)  # null → NaN

    return OLSStatistics(
        terms=list(content["terms"]),
        **{
            field: array(content[field])
            for field in STATISTICS_FIELDS
            if field not in ("nobs", "df_model", "df_resid")
        },
        nobs=int(content["nobs"]),
        df_model=np.float64(content["df_model"]),
        df_resid=np.float64(content["df_resid"]),
    )
