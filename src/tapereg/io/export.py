"""Export a fitted LinearRegressor as a TensorFlow SavedModel (for TF Serving & co.).

The SavedModel holds a small ``tf.Module`` with the coefficients as float64
variables and two or three signatures:

``serving_default``
    One float32 input of shape ``[None]`` per feature, keyed by the feature's
    signature name; returns one float32 output of shape ``[None]`` per target,
    keyed by the target's signature name. This is what TF Serving's REST API
    expects for ``{"instances": [{"age": 31.0, "size_m2": 70.0}, ...]}`` (or the
    columnar ``{"inputs": {"age": [...], ...}}``).

    A model fitted through an encoding (a formula, or text, category and boolean
    columns one-hot encoded) takes its raw columns instead, one input per column of
    ``encoding_.columns``: numbers float32, a category tf.string (its levels matched
    as ``str(level)``, so ``C(year)`` on a float column takes ``"1936.0"``), a
    column of booleans tf.bool. The graph rebuilds the design's columns (one-hot
    levels, interactions, ``np.log`` and ``I(...)`` arithmetic) in float64; a level
    not seen in training fails the call with an ``InvalidArgumentError`` naming the
    column ("unseen level"). What the graph cannot compute (another transform or
    contrast) is refused at export with a ``ParameterError`` naming the term; see
    :mod:`tapereg.io.export_design`.
``predict_matrix``
    One float32 input ``inputs`` of shape ``[None, n_features]``, columns in the
    training order (for an encoded model, the design's columns, already encoded);
    returns ``{"predictions": [None, n_targets]}`` float32.

``predict_interval``
    The inputs of ``serving_default``; returns float64 ``[None]`` tensors, the
    columns of the estimator's ``predict_interval`` (statsmodels'
    ``get_prediction().summary_frame()``): ``mean``, ``mean_se``,
    ``mean_ci_lower``, ``mean_ci_upper``, ``obs_ci_lower``, ``obs_ci_upper``,
    keyed ``<target key>.mean`` … with several targets. The model's own
    ``cov_type`` and the level given at export are baked in: the covariance
    matrices and σ² as variables, the quantile (Student's t on the residual degrees
    of freedom for "nonrobust", else normal) as a constant computed with SciPy.
    Only where the model keeps a covariance matrix (an unpenalized fit with its
    statistics, up to 1,001 terms); otherwise the metadata says why it is absent.

The first two cast the (numeric) inputs to float64, compute ``X·coefᵀ + intercept`` in
float64 and cast the result to float32, so the float32 interface is the only
rounding. ``predict_interval`` casts its inputs the same way but returns float64:
the estimator's own numbers for those inputs, to rounding.

Signature names
---------------
Features are named after ``feature_names_in_`` (else ``x0 … x{d-1}``), targets
after ``target_names_`` (else ``y``, or ``y0 … y{t-1}``). TensorFlow constrains
the input names: the loaded signature is called with them as Python keywords and
the function's arguments are matched after lower-casing, so a name must be a
Python identifier that is not a keyword nor ``self``, must start with a letter
(a leading ``_`` is not a valid graph node name) and must differ from the other
names ignoring case. :func:`signature_names` therefore maps each name by:

1. replacing every character outside ``[A-Za-z0-9_]`` by ``_``
   (``"size m2"`` → ``size_m2``, ``"age-years"`` → ``age_years``);
2. prefixing ``x_`` (features) or ``y_`` (targets) when the result does not
   start with an ASCII letter (``"1st"`` → ``x_1st``, ``"_id"`` → ``x__id``,
   ``""`` → ``x_``);
3. appending ``_`` to a Python keyword or ``self`` (``"class"`` → ``class_``);
4. making the names unique ignoring case: names that were already valid keep
   their spelling (the first wins a tie), the others get ``_1``, ``_2`` … in
   column order (``["a b", "a_b"]`` → ``a_b_1``, ``a_b``).

Targets are mapped by the same rule, separately from the features. The mapping is
written to ``assets.extra/tapereg_export.json`` inside the export (TF Serving
ignores that folder), beside the tapereg version, the signatures written, the
inputs (``inputs``: each one's name, key, dtype and, for a category, its levels as
served, the reference first), the formula's right-hand side (``formula``), and under
``predict_interval`` the level and ``cov_type`` (``exported`` false and a
``reason`` when that signature is absent).
"""

from __future__ import annotations

import contextlib
import json
import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.utils.validation import check_is_fitted

from ..errors import ExportError, ParameterError
from ..inference import _check_level, _covariances
from ..numerics.linear import feature_names as default_feature_names
from ..numerics.linear import target_names as default_target_names
from ..numerics.statistics import PREDICTION_COLUMNS, prediction_quantile
from ..runtime.atomic import umask
from .export_design import ServedDesign, plan_design

SERVING_SIGNATURE = "serving_default"
MATRIX_SIGNATURE = "predict_matrix"
MATRIX_INPUT = "inputs"
MATRIX_OUTPUT = "predictions"
INTERVAL_SIGNATURE = "predict_interval"
METADATA_FILE = os.path.join("assets.extra", "tapereg_export.json")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_DTYPES = {"float32": tf.float32, "string": tf.string, "bool": tf.bool}


def _candidate(name, prefix: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    if not re.match(r"[A-Za-z]", key):
        key = f"{prefix}_{key}"
    if keyword.iskeyword(key) or key == "self":
        key += "_"
    return key


def sanitize_names(names, prefix: str) -> list[str]:
    """Valid, case-insensitively unique signature keys for ``names`` (see module)."""
    names = [str(n) for n in names]
    candidates = [_candidate(n, prefix) for n in names]
    keys: list[str | None] = [None] * len(names)
    taken: set[str] = set()
    for i, (name, key) in enumerate(zip(names, candidates, strict=True)):
        if key == name and key.lower() not in taken:
            keys[i] = key
            taken.add(key.lower())
    for i, key in enumerate(candidates):
        if keys[i] is None:
            unique, n = key, 0
            while unique.lower() in taken:
                n += 1
                unique = f"{key}_{n}"
            keys[i] = unique
            taken.add(unique.lower())
    return keys


def _raw_names(estimator) -> tuple[list[str], list[str]]:
    n_targets, n_features = np.atleast_2d(estimator.coef_).shape
    features = getattr(estimator, "feature_names_in_", None)
    targets = getattr(estimator, "target_names_", None)
    features = default_feature_names(features, n_features)
    targets = default_target_names(targets, n_targets)
    if (
        len(features) != n_features
        or len(targets) != n_targets
        or estimator.n_features_in_ != n_features
    ):
        raise ExportError(
            f"the model has {estimator.n_features_in_} features, names "
            f"{len(features)} features and {len(targets)} targets, but its "
            f"coefficients have shape ({n_targets}, {n_features})"
        )
    return features, [str(t) for t in targets]


def signature_names(estimator) -> tuple[list[str], list[str]]:
    """The ``serving_default`` input and output keys, in training column order.

    Returns
    -------
    inputs : list of str
        One key per feature (``n_features_in_`` of them); for a model with an
        encoding (a formula, text columns), one per raw column it reads
        (``encoding_.columns``).
    targets : list of str
        One key per target.
    """
    check_is_fitted(estimator)
    features, targets = _raw_names(estimator)
    encoding = getattr(estimator, "encoding_", None)
    if encoding is not None:
        features = list(encoding.columns)
    return sanitize_names(features, "x"), sanitize_names(targets, "y")


def design_plan(estimator):
    """The serving signatures' inputs (:class:`~.export_design.ServedInput`: name,
    key, dtype, levels) and what the graph computes from them; a
    ``ParameterError`` names a formula term the export cannot compute."""
    check_is_fitted(estimator)
    features, _ = _raw_names(estimator)
    encoding = getattr(estimator, "encoding_", None)
    return plan_design(encoding, features, lambda names: sanitize_names(names, "x"))


def interval_output_keys(target_keys) -> list[str]:
    """The ``predict_interval`` output keys, target by target: the columns, or
    ``<target key>.<column>`` with several targets."""
    if len(target_keys) == 1:
        return list(PREDICTION_COLUMNS)
    return [f"{key}.{column}" for key in target_keys for column in PREDICTION_COLUMNS]


@dataclass(frozen=True)
class _Interval:
    """What the ``predict_interval`` signature bakes in, from the OLS statistics."""

    coef: np.ndarray  # (n_terms, n_targets), the intercept's row first when fitted
    cov: np.ndarray  # (n_targets, n_terms, n_terms) of the model's cov_type
    variance: np.ndarray  # (n_targets,): σ², what a new observation adds
    quantile: float
    intercept: bool


def _interval(estimator, level: float, target_keys) -> tuple[_Interval | None, dict]:
    """The interval signature's numbers and its metadata; None (and the reason in
    the metadata) where the model keeps no covariance matrix to compute them from.

    The statistics are checked by the estimator's own ``predict_interval`` checks,
    so the signature exists exactly where that method would answer.
    """
    method = f"the {INTERVAL_SIGNATURE} signature"
    cov_type = estimator.cov_type
    try:
        stats, cov_type = estimator._inference(method, None)
        cov = _covariances(stats, cov_type, method)
    except ParameterError as error:
        reason = " ".join(str(error).split())
        return None, {
            "exported": False,
            "level": level,
            "cov_type": cov_type,
            "reason": reason,
        }
    quantile = prediction_quantile(stats, level, cov_type)
    interval = _Interval(
        coef=np.asarray(stats.coef, np.float64),
        cov=np.asarray(cov, np.float64),
        variance=np.asarray(stats.resid_std_err, np.float64) ** 2,
        quantile=quantile,
        intercept=len(stats.terms) == estimator.n_features_in_ + 1,
    )
    return interval, {
        "exported": True,
        "level": level,
        "cov_type": cov_type,
        "quantile": quantile,
        "distribution": "t" if cov_type == "nonrobust" else "normal",
        "df_resid": float(stats.df_resid),
        "outputs": interval_output_keys(target_keys),
    }


class _LinearServing(tf.Module):
    """``X·coefᵀ + intercept`` in float64 behind float32 signatures, and the
    prediction intervals in float64 where ``interval`` is given."""

    def __init__(self, coef, intercept, plan, target_keys, interval=None):
        super().__init__(name="tapereg_linear")
        n_features = coef.shape[1]
        self.coef = tf.Variable(coef, dtype=tf.float64, trainable=False, name="coef")
        self.intercept = tf.Variable(
            intercept, dtype=tf.float64, trainable=False, name="intercept"
        )
        self.design = ServedDesign(plan)
        columns_signature = [
            tf.TensorSpec([None], _DTYPES[spec.dtype], name=spec.key)
            for spec in plan.inputs
        ]

        def predict64(X):
            return tf.matmul(X, self.coef, transpose_b=True) + self.intercept

        @tf.function(input_signature=columns_signature)
        def serve(*columns):
            Y = tf.cast(predict64(self.design(columns)), tf.float32)
            return {key: Y[:, j] for j, key in enumerate(target_keys)}

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, n_features], tf.float32, name=MATRIX_INPUT)
            ]
        )
        def predict_matrix(inputs):
            Y = predict64(tf.cast(inputs, tf.float64))
            return {MATRIX_OUTPUT: tf.cast(Y, tf.float32)}

        self.serve = serve
        self.predict_matrix = predict_matrix
        if interval is not None:
            self._add_interval(interval, columns_signature, target_keys)

    def _add_interval(self, interval: _Interval, columns_signature, target_keys):
        """The ``predict_interval`` signature: prediction_table's formulas in TF."""

        def frozen(values, name):
            return tf.Variable(values, dtype=tf.float64, trainable=False, name=name)

        self.terms_coef = frozen(interval.coef, "terms_coef")
        self.terms_cov = frozen(interval.cov, "terms_cov")
        self.resid_variance = frozen(interval.variance, "resid_variance")
        quantile = tf.constant(interval.quantile, tf.float64)
        keys = interval_output_keys(target_keys)

        @tf.function(input_signature=columns_signature)
        def predict_interval(*columns):
            X = self.design(columns)
            if interval.intercept:
                X = tf.concat([tf.ones_like(X[:, :1]), X], axis=1)
            mean = tf.matmul(X, self.terms_coef)  # (n, n_targets)
            # x̃ᵀ·Cov_k·x̃ for every row and target k.
            XC = tf.einsum("ij,kjl->kil", X, self.terms_cov)
            mean_se = tf.sqrt(tf.transpose(tf.reduce_sum(XC * X, axis=2)))
            obs_se = tf.sqrt(tf.square(mean_se) + self.resid_variance)
            table = (
                mean,
                mean_se,
                mean - quantile * mean_se,
                mean + quantile * mean_se,
                mean - quantile * obs_se,
                mean + quantile * obs_se,
            )
            values = [column[:, k] for k in range(len(target_keys)) for column in table]
            return dict(zip(keys, values, strict=True))

        self.predict_interval = predict_interval

    def signature_functions(self) -> dict:
        """The functions to save, by signature name."""
        functions = {
            SERVING_SIGNATURE: self.serve,
            MATRIX_SIGNATURE: self.predict_matrix,
        }
        if hasattr(self, "predict_interval"):
            functions[INTERVAL_SIGNATURE] = self.predict_interval
        return functions


def _is_saved_model(directory: str) -> bool:
    return any(
        os.path.isfile(os.path.join(directory, name)) for name in _SAVED_MODEL_FILES
    )


def _check_destination(directory: str) -> None:
    if not os.path.lexists(directory):
        parent = os.path.dirname(directory)
        if not os.path.isdir(parent):
            raise ExportError(f"{parent}: no such directory to export into")
        return
    if not os.path.isdir(directory):
        raise ExportError(f"{directory}: exists and is not a directory")
    if os.listdir(directory) and not _is_saved_model(directory):
        raise ExportError(
            f"{directory}: exists, is not empty and is not a SavedModel; "
            "choose another directory or remove it"
        )


def _fsync_directory(path: str) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def export_saved_model(estimator, directory, level: float = 0.95) -> dict:
    """Write a fitted LinearRegressor to ``directory`` as a TensorFlow SavedModel.

    The signatures and the naming rule are described in this module's docstring:
    ``serving_default`` takes one float32 ``[None]`` tensor per feature (for a
    model with an encoding, one tensor per raw column: float32, tf.string for a
    category, tf.bool for booleans) and returns one float32 ``[None]`` tensor per
    target; ``predict_matrix`` takes
    ``inputs`` float32 ``[None, n_features]`` and returns ``predictions`` float32
    ``[None, n_targets]``; ``predict_interval`` takes the inputs of
    ``serving_default`` and returns ``predict_interval(X, level)``'s columns as
    float64, under the model's ``cov_type``, where the model keeps its covariance
    matrix. Load it with ``tf.saved_model.load(directory)``.

    The export is built in a hidden temporary folder beside ``directory`` and
    renamed into place: a failure leaves ``directory`` as it was and nothing
    else behind. An existing SavedModel (or empty folder) at ``directory`` is
    replaced: it is renamed away, the new one renamed in, then the old one
    deleted.

    Parameters
    ----------
    estimator : LinearRegressor, fitted
    directory : str or PathLike
    level : float, default=0.95
        Confidence level of the ``predict_interval`` signature's intervals, fixed
        in the export.

    Returns
    -------
    dict
        The metadata written to ``assets.extra/tapereg_export.json``; its
        ``predict_interval`` entry says whether that signature was written, and
        why not.

    Raises
    ------
    ParameterError
        ``level`` is not in (0, 1), or the model's formula has a term the graph
        cannot compute (the message names it).
    ExportError
        ``directory`` is a file, or a non-empty folder that is not a SavedModel
        (it is left untouched), or its parent folder does not exist.
    sklearn.exceptions.NotFittedError
        The estimator is not fitted.
    """
    from .. import __version__

    check_is_fitted(estimator)
    _check_level(level)
    directory = os.path.abspath(os.fspath(directory))
    _check_destination(directory)

    coef = np.atleast_2d(np.asarray(estimator.coef_, np.float64))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, np.float64))
    features, targets = _raw_names(estimator)
    plan = design_plan(estimator)
    _, target_keys = signature_names(estimator)
    encoding = getattr(estimator, "encoding_", None)
    if encoding is None:  # the inputs are the features
        feature_entries = [{"name": spec.name, "key": spec.key} for spec in plan.inputs]
    else:  # the features are the design's columns, predict_matrix's columns
        feature_entries = [{"name": name} for name in features]
    interval, interval_metadata = _interval(estimator, float(level), target_keys)
    module = _LinearServing(coef, intercept, plan, target_keys, interval)
    metadata = {
        "format": "tapereg.saved_model",
        "tapereg_version": __version__,
        "signatures": list(module.signature_functions()),
        "inputs": [spec.to_json() for spec in plan.inputs],
        "formula": None if encoding is None else encoding.formula,
        "features": feature_entries,
        "targets": [
            {"name": n, "key": k} for n, k in zip(targets, target_keys, strict=True)
        ],
        INTERVAL_SIGNATURE: interval_metadata,
    }

    _write_in_place(directory, module, metadata)
    return metadata


def _write_in_place(directory: str, module, metadata: dict) -> None:
    """Save beside ``directory`` and rename into place (the old one renamed away)."""
    parent, base = os.path.split(directory)
    staging = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    new, old = os.path.join(staging, "new"), os.path.join(staging, "old")
    try:
        tf.saved_model.save(module, new, signatures=module.signature_functions())
        os.makedirs(os.path.join(new, "assets.extra"), exist_ok=True)
        with open(os.path.join(new, METADATA_FILE), "w", encoding="utf-8") as file:
            json.dump(metadata, file, indent=1)
            file.write("\n")
        # mkdtemp made the staging folder 0700; the export gets a plain mkdir's mode.
        os.chmod(new, 0o777 & ~umask())
        _check_destination(directory)  # again: it may have changed while saving
        if os.path.lexists(directory):
            os.rename(directory, old)
            try:
                os.rename(new, directory)
            except BaseException:
                os.rename(old, directory)
                raise
        else:
            os.rename(new, directory)
        _fsync_directory(parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
