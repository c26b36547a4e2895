"""The result of a fit as one dictionary (the ``--json`` object) and as text.

Both the demos and ``tapereg fit`` report through here, so they print the same keys.
"""

from __future__ import annotations

import numpy as np

from ..numerics.linear import linear_predictions
from ..numerics.linear import target_names as default_target_names
from ..numerics.metrics import mean_over_targets, regression_metrics
from ..numerics.residuals import JARQUE_BERA, OMNIBUS

# 1 − R² of the exact fit below which the data lie on the model to rounding.
PERFECT_FIT = 1e-12


def _shape_for_json(coef: np.ndarray, intercept: np.ndarray):
    """Weights (d, t) as sklearn shapes: (d,) and a float for one target."""
    if coef.shape[1] == 1:
        return coef[:, 0].tolist(), float(intercept[0])
    return coef.T.tolist(), intercept.tolist()


def build_report(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    coef: np.ndarray,
    intercept: np.ndarray,
    exact_coef: np.ndarray | None,
    exact_intercept: np.ndarray | None,
    loss_history: np.ndarray,
    n_iter: int,
    optimizer: str,
    learning_rate: float | None,
    seconds: float,
    feature_names: list[str],
    target_names: list[str],
    sample_weight: np.ndarray | None = None,
    metrics: tuple[dict, dict] | None = None,
    row_loss=None,
    loss_label: str | None = None,
) -> dict:
    """Metrics of the trained and the exact weights on (X, Y), in the ``--json`` layout.

    ``coef`` and ``exact_coef`` have shape (n_features, n_targets); without the
    exact optimum (None: ``--no-reference``) ``exact`` is null. Data too big to
    hold passes ``metrics`` (the trained and the exact model's, already computed,
    per target as ``regression_metrics(..., multioutput="raw_values")``) and no
    X, Y. ``exact.mse`` and ``relative_excess_mse`` are of the mean over targets,
    the loss training minimizes. Another loss (``row_loss``, named
    ``loss_label``) adds ``loss``: its mean for the trained weights and the
    reference's, and the relative excess in place of the MSE's.
    """
    exact = exact_coef is not None
    if metrics is None:
        models = [(coef, intercept)] + (
            [(exact_coef, exact_intercept)] if exact else []
        )
        metrics = [
            regression_metrics(
                Y,
                linear_predictions(X, *model),
                sample_weight,
                multioutput="raw_values",
                row_loss=row_loss,
            )
            for model in models
        ]
    means = [mean_over_targets(m) for m in metrics]
    coef_out, intercept_out = _shape_for_json(coef, intercept)
    report = {
        "coef": coef_out,
        "intercept": intercept_out,
        "feature_names": list(feature_names),
        "target": target_names[0] if len(target_names) == 1 else list(target_names),
        "n_iter": int(n_iter),
        "loss_history": [float(v) for v in loss_history],
        "metrics": _metrics_for_json(metrics[0], target_names),
        "exact": None,
        "relative_excess_mse": None,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "seconds": seconds,
    }
    if exact:
        # When the data lie on the model (exact R² = 1 to rounding), the exact MSE
        # is rounding noise and a ratio to it means nothing.
        exact_mse = means[1]["mse"]
        perfect = exact_mse == 0 or 1 - means[1]["r2"] < PERFECT_FIT
        exact_coef_out, exact_intercept_out = _shape_for_json(
            exact_coef, exact_intercept
        )
        report["exact"] = {
            "coef": exact_coef_out,
            "intercept": exact_intercept_out,
            "mse": exact_mse,
        }
        if not perfect and loss_label is None:
            report["relative_excess_mse"] = (means[0]["mse"] - exact_mse) / exact_mse
    if loss_label is not None:
        report["loss"] = {
            "name": loss_label,
            "trained": means[0]["loss"],
            "reference": means[1]["loss"] if exact else None,
            "relative_excess": (means[0]["loss"] - means[1]["loss"]) / means[1]["loss"]
            if exact and means[1]["loss"] > 0
            else None,
        }
    return report


def _metrics_for_json(per_target: dict, target_names: list[str]) -> dict:
    """One target: its metrics as they always were. Several: their mean under a
    name that says so, and each target's under its name."""
    mean = mean_over_targets(per_target)
    if len(target_names) == 1:
        return mean
    return {
        "mean_over_targets": mean,
        "targets": {
            name: {key: float(values[j]) for key, values in per_target.items()}
            for j, name in enumerate(target_names)
        },
    }


def format_coefficients(report: dict) -> str:
    """Trained beside exact coefficients, one row per feature, a block per target
    (trained only when the exact optimum was not computed)."""
    several = isinstance(report["target"], list)
    targets = report["target"] if several else [report["target"]]

    def per_target(values):
        return values if several else [values]

    columns = [(per_target(report["coef"]), per_target(report["intercept"]))]
    headers = ["trained"]
    if report["exact"] is not None:
        exact = report["exact"]
        columns.append((per_target(exact["coef"]), per_target(exact["intercept"])))
        headers.append("exact")
    names = [*report["feature_names"], "intercept"]
    width = max(len(n) for n in names)
    lines = []
    for j, target in enumerate(targets):
        lines.append(
            f"{'target ' + target:<{width}}"
            + "".join(f"  {header:>16}" for header in headers)
        )
        values = [[*coefs[j], intercepts[j]] for coefs, intercepts in columns]
        for row, name in enumerate(names):
            lines.append(
                f"{name:<{width}}" + "".join(f"  {v[row]:>16.8g}" for v in values)
            )
    return "\n".join(lines)


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _metrics_line(m: dict) -> str:
    return (
        f"MSE {m['mse']:.6g}  RMSE {m['rmse']:.6g}  MAE {m['mae']:.6g}  "
        f"R² {m['r2']:.6g}"
    )


def _format_metrics(report: dict) -> str:
    """One line of metrics; for several targets one per target and their mean."""
    m = report["metrics"]
    if not isinstance(report["target"], list):
        return _metrics_line(m) + "\n"
    rows = [(f"target {name}", values) for name, values in m["targets"].items()]
    rows.append((f"mean over {len(rows)} targets", m["mean_over_targets"]))
    width = max(len(label) for label, _ in rows)
    return "".join(f"{label:<{width}}  {_metrics_line(v)}\n" for label, v in rows)


def _loss_line(report: dict) -> str:
    """The trained loss beside the reference's: the loss's exact optimum, or
    the least-squares fit where that is not known (said so)."""
    loss = report["loss"]
    line = f"{loss['name']} {loss['trained']:.6g}"
    if report["exact"] is None:
        return line + "; its exact optimum not computed (--no-reference)\n"
    problem = report["exact"].get("problem") or ""
    if problem.startswith("least squares"):
        return line + (
            f"; no exact optimum of this loss here, the least-squares fit's "
            f"is {loss['reference']:.6g}\n"
        )
    excess = loss["relative_excess"]
    gap = "" if excess is None else f"; trained exceeds it by {excess:.3g} (relative)"
    return line + f"; exact optimum {loss['reference']:.6g} ({problem}){gap}\n"


def format_summary(report: dict) -> str:
    """Metrics, the gap to the exact optimum, and how training went."""
    excess = report["relative_excess_mse"]
    if report["exact"] is None:
        optimum = "exact least-squares optimum not computed (--no-reference)\n"
    else:
        gap = (
            " (the data lie exactly on the model)"
            if excess is None
            else f"; trained MSE exceeds it by {excess:.3g} (relative)"
        )
        mean = " (mean over targets)" if isinstance(report["target"], list) else ""
        optimum = f"exact least-squares MSE {report['exact']['mse']:.6g}{mean}{gap}\n"
    if report.get("loss") is not None:
        optimum = _loss_line(report)
    rate = report["learning_rate"]
    rate_text = "" if rate is None else f", learning rate {rate:.4g}"
    return (
        _format_metrics(report)
        + optimum
        + (
            "exact solver, one pass over the data"
            if report["optimizer"] == "exact"
            else f"{_epochs(report['n_iter'])} ({report['optimizer']}{rate_text}"
            + (
                f", {report['engine']} engine, {report['dtype']})"
                if report.get("engine")
                else ")"
            )
        )
        + f" in {report['seconds']:.3g} s"
    )


def cv_to_json(estimator, *, interleaved: bool) -> dict:
    """A LinearRegressorCV's path: the chosen penalty, the folds, and for each
    l1_ratio its alphas and their MSE averaged over the held-out folds."""
    ratios = np.atleast_1d(np.asarray(estimator.l1_ratio, np.float64))
    mse = estimator.mse_path_.reshape(len(ratios), -1, estimator.mse_path_.shape[-1])
    alphas = np.broadcast_to(estimator.alphas_, mse.shape[:2])
    return {
        "alpha": float(estimator.alpha_),
        "l1_ratio": float(estimator.l1_ratio_),
        "folds": int(mse.shape[2]),
        "folds_interleaved": interleaved,
        "path": [
            {
                "l1_ratio": float(ratio),
                "alphas": alphas[i].tolist(),
                "mean_mse": mse[i].mean(axis=1).tolist(),
            }
            for i, ratio in enumerate(ratios)
        ],
    }


def format_cv(cv: dict) -> str:
    """One line: the penalty chosen, and its mean held-out MSE (and whether it
    is the grid's smallest alpha)."""
    chosen = next(p for p in cv["path"] if p["l1_ratio"] == cv["l1_ratio"])
    best = min(chosen["mean_mse"])
    tried = sum(len(p["alphas"]) for p in cv["path"])
    kind = "interleaved" if cv["folds_interleaved"] else "contiguous"
    line = (
        f"cross-validation ({cv['folds']} {kind} folds, {tried} penalties): "
        f"alpha {cv['alpha']:.6g}, l1_ratio {cv['l1_ratio']:g}, mean held-out "
        f"MSE {best:.6g}"
    )
    if len(chosen["alphas"]) > 1 and cv["alpha"] == min(chosen["alphas"]):
        # The held-out MSE still falls at the grid's end: a smaller alpha may do
        # better, which the reader should know before trusting the choice.
        line += " (the smallest alpha tried: --alphas smaller ones may fit better)"
    return line


def summary_to_json(estimator, level: float) -> dict | list[dict]:
    """The OLS table and model statistics as JSON (for several targets a list, each
    naming its ``target``). ``n_groups`` is the number of clusters where the fit
    had cluster labels (null without)."""
    stats = estimator.statistics_

    def one(target: int) -> dict:
        table = stats.table(level, target, estimator.cov_type)
        return {
            "level": level,
            "cov_type": estimator.cov_type,
            "n_groups": stats.n_groups,
            "terms": list(table.index),
            **{column: [_finite(v) for v in table[column]] for column in table},
            "rsquared": _finite(stats.rsquared[target]),
            "rsquared_adj": _finite(stats.rsquared_adj[target]),
            "fvalue": _finite(stats.fvalue[target]),
            "f_pvalue": _finite(stats.f_pvalue[target]),
            "resid_std_err": _finite(stats.resid_std_err[target]),
            "nobs": int(stats.nobs),
            "df_model": float(stats.df_model),
            "df_resid": float(stats.df_resid),
            **_diagnostics_json(stats, target),
        }

    n_targets = stats.coef.shape[1]
    if n_targets == 1:
        return one(0)
    names = default_target_names(getattr(estimator, "target_names_", None), n_targets)
    return [{"target": name, **one(k)} for k, name in enumerate(names)]


def _diagnostics_json(stats, target: int) -> dict:
    """statsmodels' summary diagnostics of one target (none in older files)."""
    found = stats.diagnostics
    if found is None:
        return {}
    jb = found.jarque_bera[target]
    features = stats.terms[len(stats.terms) - len(found.vif) :]
    return {
        "llf": _finite(found.llf[target]),
        "aic": _finite(found.aic[target]),
        "bic": _finite(found.bic[target]),
        "durbin_watson": _finite(found.durbin_watson[target]),
        "jarque_bera": dict(zip(JARQUE_BERA, map(_finite, jb), strict=True)),
        "omnibus": dict(zip(OMNIBUS, map(_finite, found.omnibus[target]), strict=True)),
        "condition_number": _finite(found.condition_number),
        "vif": dict(zip(features, map(_finite, found.vif), strict=True)),
    }


def _finite(value) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    value = float(value)
    return value if np.isfinite(value) else None


def f_tests(estimator, specs: list[str]) -> list[dict]:
    """Each restriction string's Wald F test, per target, as JSON rows."""
    names = default_target_names(
        getattr(estimator, "target_names_", None),
        estimator.statistics_.coef.shape[1],
    )
    rows = []
    for spec in specs:
        result = estimator.f_test(spec)
        per_target = [result] if len(names) == 1 else [r for _, r in result.iterrows()]
        for name, row in zip(names, per_target, strict=True):
            rows.append(
                {
                    "restrictions": spec,
                    "target": name,
                    "fvalue": _finite(row["fvalue"]),
                    "p_value": _finite(row["p_value"]),
                    "df_num": float(row["df_num"]),
                    "df_denom": float(row["df_denom"]),
                }
            )
    return rows


def format_f_tests(rows: list[dict], several_targets: bool) -> str:
    """One line per test (and target): F, its p-value and degrees of freedom."""
    lines = []
    for row in rows:
        where = f" (target {row['target']})" if several_targets else ""
        fvalue = "undefined" if row["fvalue"] is None else f"{row['fvalue']:.6g}"
        p_value = "undefined" if row["p_value"] is None else f"{row['p_value']:.3g}"
        lines.append(
            f"F test of {row['restrictions']}{where}: F {fvalue} (p = {p_value}; "
            f"df {row['df_num']:g}, {row['df_denom']:g})"
        )
    return "\n".join(lines)
