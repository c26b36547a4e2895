"""Every inference figure's largest relative difference from statsmodels' OLS/WLS.

Fits tapereg (``solver="exact"`` and the default gradient descent) and statsmodels
side by side on longley and stackloss (``statsmodels.api.datasets``) and diabetes
(scikit-learn, unscaled), each as OLS and as WLS (weights
``default_rng(1).uniform(0.5, 2, n)``), with cluster labels ``arange(n) % 5``
(``% 20`` for diabetes). For each figure it prints the largest
``|ours − theirs| / max(|theirs|, 1e-300)`` over every element of every
dataset and case, and where it occurs: coefficients, standard errors,
``cov_params`` of each covariance type, R², adjusted R², F and its p-value,
the residual standard error, ``predict_interval`` (nonrobust and HC1), ``f_test``
and ``t_test``, and the summary's diagnostics (llf, AIC, BIC, Durbin–Watson,
Jarque–Bera, omnibus, condition number, VIFs; statsmodels' ``stattools`` on its
``wresid``, its VIFs, and with weights 1/(1 − R²) of each feature's weighted
regression on the others); the largest over stackloss and diabetes alone too, as
longley (κ ≈ 5e9) sets most maxima. A second table compares ``fit_stream`` (the rows
in four blocks of uneven size) with the in-memory fit over the same figures. A third
takes exact rational arithmetic as the reference on longley (the float64 data and
weights taken as the exact numbers they are): the covariances and the prediction's
standard error, tapereg's exact solver and statsmodels. Markdown tables, then one
JSON line.

    python benchmarks/vs_statsmodels.py [--datasets longley stackloss diabetes]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
import warnings
from fractions import Fraction

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import statsmodels
import statsmodels.api as sm
from sklearn.datasets import load_diabetes
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.stats.stattools import durbin_watson, jarque_bera, omni_normtest

from tapereg import LinearRegressor

HC = ["HC0", "HC1", "HC2", "HC3"]
FLOOR = 1e-300
SOLVERS = {"exact": {"solver": "exact"}, "gd": {}}


def longley():
    data = sm.datasets.longley.load_pandas()
    return data.exog, data.endog, 5


def stackloss():
    data = sm.datasets.stackloss.load_pandas()
    return data.exog, data.endog, 5


def diabetes():
    data = load_diabetes(as_frame=True, scaled=False)
    return data.data, data.target, 20


DATASETS = {"longley": longley, "stackloss": stackloss, "diabetes": diabetes}


def restrictions(columns, const):
    """Two restrictions for f_test and one for t_test over real term names."""
    a, b, c = columns[:3]
    return f"{a} = 0, {b} = {c}", f"{const} + 2 * {a} = 1"


class Blocks:
    """A re-iterable stream of (X, y, weights, groups) blocks with its names."""

    def __init__(self, X, y, weights, groups, cuts):
        self.feature_names = list(X.columns)
        self.target_names = [y.name]
        Xa, ya = X.to_numpy(float), y.to_numpy(float)
        self.blocks = [
            (
                Xa[a:b],
                ya[a:b],
                None if weights is None else weights[a:b],
                groups[a:b],
            )
            for a, b in itertools.pairwise(cuts)
        ]

    def __iter__(self):
        return iter(self.blocks)


def uneven_cuts(n):
    """Four blocks: about a seventh, one row, about half, the rest."""
    first = max(1, n // 7)
    return [0, first, first + 1, (2 * n) // 3, n]


def ours(plain, robust, X, f_spec, t_spec):
    """Every figure of a tapereg fit: ``plain`` fitted with the default
    (nonrobust) cov_type, ``robust`` with cov_type="HC3" (both with groups)."""
    new = X.iloc[:5]
    f = plain.f_test(f_spec, cov_type="nonrobust")
    t = plain.t_test(t_spec, cov_type="nonrobust").iloc[0]
    figures = {
        "coefficients": np.r_[plain.intercept_, plain.coef_],
        "std errors (nonrobust)": plain.summary().std_err.to_numpy(),
        "cov_params nonrobust": plain.cov_params("nonrobust").to_numpy(),
    }
    for cov_type in [*HC, "cluster"]:
        figures[f"cov_params {cov_type}"] = robust.cov_params(cov_type).to_numpy()
    figures |= {
        "R²": plain.rsquared_,
        "adjusted R²": plain.rsquared_adj_,
        "F (nonrobust)": plain.fvalue_,
        "F p-value (nonrobust)": plain.f_pvalue_,
        "resid std err": plain.resid_std_err_,
        "predict_interval nonrobust": plain.predict_interval(new).to_numpy(),
        "predict_interval HC1": robust.predict_interval(new, cov_type="HC1").to_numpy(),
        "f_test F": f.fvalue,
        "f_test p": f.p_value,
        "t_test effect": t.coef,
        "t_test sd": t.std_err,
        "t_test t": t.t,
        "t_test p": t.p_value,
        "llf": plain.llf_,
        "aic": plain.aic_,
        "bic": plain.bic_,
        "durbin_watson": plain.durbin_watson_,
        "jarque_bera (4)": plain.jarque_bera_.to_numpy(),
        "omnibus (2)": plain.omnibus_.to_numpy(),
        "condition_number": plain.condition_number_,
        "vif": plain.vif_.to_numpy(),
    }
    return figures


def reference_vif(X, weights):
    """statsmodels' VIFs; with weights, 1/(1 − R²) of each weighted regression."""
    exog = sm.add_constant(np.asarray(X, float))
    if weights is None:
        return np.array(
            [variance_inflation_factor(exog, j + 1) for j in range(X.shape[1])]
        )
    out = []
    for j in range(X.shape[1]):
        others = np.delete(exog, j + 1, axis=1)
        fit = sm.WLS(exog[:, j + 1], others, weights=weights).fit()
        out.append(1 / (1 - fit.rsquared))
    return np.array(out)


def theirs(X, y, weights, groups, f_spec, t_spec):
    """The same figures from statsmodels."""
    exog = sm.add_constant(X)
    model = sm.OLS(y, exog) if weights is None else sm.WLS(y, exog, weights=weights)
    plain = model.fit()
    new = exog.iloc[:5]
    f = plain.f_test(f_spec)
    t = plain.t_test(t_spec).summary_frame(alpha=0.05).iloc[0]
    figures = {
        "coefficients": plain.params.to_numpy(),
        "std errors (nonrobust)": plain.bse.to_numpy(),
        "cov_params nonrobust": plain.cov_params().to_numpy(),
    }
    for cov_type in HC:
        figures[f"cov_params {cov_type}"] = (
            model.fit(cov_type=cov_type).cov_params().to_numpy()
        )
    clustered = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    figures["cov_params cluster"] = clustered.cov_params().to_numpy()
    resid = plain.wresid
    figures |= {
        "R²": plain.rsquared,
        "adjusted R²": plain.rsquared_adj,
        "F (nonrobust)": plain.fvalue,
        "F p-value (nonrobust)": plain.f_pvalue,
        "resid std err": np.sqrt(plain.scale),
        "predict_interval nonrobust": plain.get_prediction(new)
        .summary_frame(alpha=0.05)
        .to_numpy(),
        "predict_interval HC1": model.fit(cov_type="HC1")
        .get_prediction(new)
        .summary_frame(alpha=0.05)
        .to_numpy(),
        "f_test F": np.squeeze(f.fvalue),
        "f_test p": f.pvalue,
        "t_test effect": t["coef"],
        "t_test sd": t["std err"],
        "t_test t": t["t"],
        "t_test p": t["P>|t|"],
        "llf": plain.llf,
        "aic": plain.aic,
        "bic": plain.bic,
        "durbin_watson": durbin_watson(resid),
        "jarque_bera (4)": np.array(jarque_bera(resid)),
        "omnibus (2)": np.array(omni_normtest(resid)),
        "condition_number": plain.condition_number,
        "vif": reference_vif(X, weights),
    }
    return figures


def relative(a, b):
    """The largest |a − b| / max(|b|, FLOOR) and its flat index (NaN = NaN)."""
    a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
    assert a.shape == b.shape, (a.shape, b.shape)
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.abs(a - b) / np.maximum(np.abs(b), FLOOR)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    k = int(np.argmax(diff))
    return float(diff.flat[k]), k


def _inverse(M):
    """Gauss-Jordan inverse of a list-of-lists of Fractions."""
    p = len(M)
    rows = [M[j][:] + [Fraction(int(j == k)) for k in range(p)] for j in range(p)]
    for c in range(p):
        pivot = next(r for r in range(c, p) if rows[r][c] != 0)
        rows[c], rows[pivot] = rows[pivot], rows[c]
        rows[c] = [v / rows[c][c] for v in rows[c]]
        for r in range(p):
            if r != c and rows[r][c] != 0:
                f = rows[r][c]
                rows[r] = [a - f * z for a, z in zip(rows[r], rows[c], strict=True)]
    return [row[p:] for row in rows]


def exact_covariances(exog, y, weights, groups):
    """statsmodels' nonrobust, HC0–HC3 and cluster covariances of WLS on
    (exog, y) in exact rational arithmetic (weights 1 for OLS)."""
    A = [[Fraction(v) for v in row] for row in exog]
    b = [Fraction(v) for v in y]
    n, p = len(A), len(A[0])
    w = [Fraction(1)] * n if weights is None else [Fraction(v) for v in weights]
    rp = range(p)
    inv = _inverse(
        [[sum(w[i] * A[i][j] * A[i][k] for i in range(n)) for k in rp] for j in rp]
    )
    xty = [sum(w[i] * A[i][j] * b[i] for i in range(n)) for j in rp]
    beta = [sum(inv[j][k] * xty[k] for k in rp) for j in rp]
    e = [b[i] - sum(A[i][k] * beta[k] for k in rp) for i in range(n)]
    h = [
        w[i] * sum(A[i][j] * inv[j][k] * A[i][k] for j in rp for k in rp)
        for i in range(n)
    ]

    def sandwich(meat, factor=Fraction(1)):
        left = [[sum(inv[j][a] * meat[a][k] for a in rp) for k in rp] for j in rp]
        return [
            [factor * sum(left[j][a] * inv[a][k] for a in rp) for k in rp] for j in rp
        ]

    def hc(m):
        return [
            [
                sum(
                    (w[i] * e[i]) ** 2 / (1 - h[i]) ** m * A[i][j] * A[i][k]
                    for i in range(n)
                )
                for k in rp
            ]
            for j in rp
        ]

    scale = sum(w[i] * e[i] ** 2 for i in range(n)) / (n - p)
    out = {"nonrobust": [[scale * v for v in row] for row in inv]}
    out["HC0"] = sandwich(hc(0))
    out["HC1"] = sandwich(hc(0), Fraction(n, n - p))
    out["HC2"], out["HC3"] = sandwich(hc(1)), sandwich(hc(2))
    labels = sorted(set(groups))
    scores = {g: [Fraction(0)] * p for g in labels}
    for i, g in enumerate(groups):
        for j in rp:
            scores[g][j] += w[i] * e[i] * A[i][j]
    meat = [[sum(scores[g][j] * scores[g][k] for g in labels) for k in rp] for j in rp]
    G = len(labels)
    out["cluster"] = sandwich(meat, Fraction(G, G - 1) * Fraction(n - 1, n - p))
    return out


def against_exact():
    """Longley, OLS and WLS: the largest relative error of tapereg's exact solver
    and of statsmodels against exact rational arithmetic, per figure."""
    X, y, n_clusters = longley()
    n = len(y)
    groups = np.arange(n) % n_clusters
    exog = sm.add_constant(X)
    rows = {}
    for case in ("OLS", "WLS"):
        weights = None if case == "OLS" else np.random.default_rng(1).uniform(0.5, 2, n)
        exact = exact_covariances(
            exog.to_numpy(float), y.to_numpy(float), weights, list(groups)
        )
        model = sm.OLS(y, exog) if weights is None else sm.WLS(y, exog, weights=weights)
        plain = LinearRegressor(solver="exact").fit(
            X, y, sample_weight=weights, groups=groups
        )
        robust = LinearRegressor(solver="exact", cov_type="HC3").fit(
            X, y, sample_weight=weights, groups=groups
        )
        new = [[Fraction(v) for v in row] for row in exog.to_numpy(float)[:5]]
        for cov_type, matrix in exact.items():
            reference = np.array([[float(v) for v in row] for row in matrix])
            kwds = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
            fitted = (
                model.fit()
                if cov_type == "nonrobust"
                else model.fit(cov_type=cov_type, **kwds)
            )
            ours = (plain if cov_type == "nonrobust" else robust).cov_params(cov_type)
            figure = f"cov_params {cov_type}"
            found = (
                relative(ours, reference)[0],
                relative(fitted.cov_params(), reference)[0],
                np.nan,
            )
            rows[figure] = np.maximum(rows.get(figure, found), found)
            if cov_type not in ("nonrobust", "HC1"):
                continue
            # The mean's standard error at X[:5]: √(x̃ᵀ·V·x̃), V exact.
            se = np.sqrt(
                [
                    float(
                        sum(
                            x[j] * matrix[j][k] * x[k]
                            for j in range(len(x))
                            for k in range(len(x))
                        )
                    )
                    for x in new
                ]
            )
            ours = (plain if cov_type == "nonrobust" else robust).predict_interval(
                X.iloc[:5], cov_type=cov_type
            )["mean_se"]
            theirs = fitted.get_prediction(exog.iloc[:5]).summary_frame()["mean_se"]
            # ... and with V the exact matrix rounded once to float64.
            head = exog.to_numpy(float)[:5]
            rounded = np.sqrt(np.einsum("ij,jk,ik->i", head, reference, head))
            figure = f"predict_interval {cov_type}: mean_se"
            found = (
                relative(ours, se)[0],
                relative(theirs, se)[0],
                relative(rounded, se)[0],
            )
            rows[figure] = np.maximum(rows.get(figure, found), found)
    return rows


def fit_pair(params, method, *args, **kwargs):
    """The nonrobust and the cov_type="HC3" fit, by ``model.method(*args, ...)``."""
    return tuple(
        getattr(LinearRegressor(**params, cov_type=cov_type), method)(*args, **kwargs)
        for cov_type in ("nonrobust", "HC3")
    )


def compare(datasets):
    """(worst, streamed): per (figure, solver) every (difference, element, where)
    against statsmodels; per (case, solver) the largest streamed-vs-memory
    difference and its figure."""
    worst = {}
    streamed = {}
    for name in datasets:
        X, y, n_clusters = DATASETS[name]()
        n = len(y)
        groups = np.arange(n) % n_clusters
        columns = list(X.columns)
        f_spec, t_spec = restrictions(columns, "const")
        our_f, our_t = restrictions(columns, "intercept")
        for case in ("OLS", "WLS"):
            weights = (
                None if case == "OLS" else np.random.default_rng(1).uniform(0.5, 2, n)
            )
            reference = theirs(X, y, weights, groups, f_spec, t_spec)
            where = f"{name} {case}"
            blocks = Blocks(X, y, weights, groups, uneven_cuts(n))
            for solver, params in SOLVERS.items():
                fitted = ours(
                    *fit_pair(
                        params, "fit", X, y, sample_weight=weights, groups=groups
                    ),
                    X,
                    our_f,
                    our_t,
                )
                for figure, value in reference.items():
                    worst.setdefault((figure, solver), []).append(
                        (*relative(fitted[figure], value), where)
                    )
                from_stream = ours(
                    *fit_pair(params, "fit_stream", blocks), X, our_f, our_t
                )
                gaps = {f: relative(from_stream[f], fitted[f])[0] for f in reference}
                figure = max(gaps, key=gaps.get)
                streamed[where, solver] = (gaps[figure], figure)
    return worst, streamed


def largest(found, skip=None):
    """The (difference, element, where) of the largest difference, leaving out the
    dataset ``skip``."""
    kept = [row for row in found if skip is None or not row[2].startswith(skip)]
    return max(kept, key=lambda row: row[0]) if kept else (np.nan, None, "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS)
    )
    args = parser.parse_args()
    # Few clusters (longley: 5 for 6 slopes), kurtosistest on n < 20, and the like.
    warnings.simplefilter("ignore")

    started = time.perf_counter()
    worst, streamed = compare(args.datasets)
    exact = against_exact() if "longley" in args.datasets else {}
    seconds = time.perf_counter() - started
    figures = list(dict.fromkeys(figure for figure, _ in worst))

    print(
        f"tapereg against statsmodels {statsmodels.__version__}: "
        f"{', '.join(args.datasets)}, OLS and WLS; "
        "max |ours − theirs| / |theirs| over every element\n"
    )
    print(
        "| figure | exact | where | gd (default) | where "
        "| exact, without longley | gd, without longley |"
    )
    print("|---|---:|---|---:|---|---:|---:|")
    for figure in figures:
        cells = []
        for solver in SOLVERS:
            value, _, where = largest(worst[figure, solver])
            cells += [f"{value:.1e}", where]
        for solver in SOLVERS:
            cells.append(f"{largest(worst[figure, solver], 'longley')[0]:.1e}")
        print(f"| {figure} | {' | '.join(cells)} |")

    print("\nfit_stream (4 uneven blocks) against fit, the same figures\n")
    print("| data | exact | largest in | gd (default) | largest in |")
    print("|---|---:|---|---:|---|")
    cases = list(dict.fromkeys(where for where, _ in streamed))
    for where in cases:
        cells = []
        for solver in SOLVERS:
            value, figure = streamed[where, solver]
            cells += [f"{value:.1e}", figure]
        print(f"| {where} | {' | '.join(cells)} |")

    if exact:
        print(
            "\nlongley (OLS and WLS) against exact rational arithmetic: "
            "max relative error\n"
        )
        print(
            "| figure | tapereg, solver='exact' | statsmodels "
            "| exact V rounded once to float64 |"
        )
        print("|---|---:|---:|---:|")
        for figure, (ours_, theirs_, rounded) in exact.items():
            last = "–" if np.isnan(rounded) else f"{rounded:.1e}"
            print(f"| {figure} | {ours_:.1e} | {theirs_:.1e} | {last} |")
    print(f"\n{seconds:.1f} s")

    def entry(row):
        value, element, where = row
        return {"max_rel_diff": value, "where": where, "element": element}

    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "vs_statsmodels": {
                    solver: {
                        figure: entry(largest(worst[figure, solver]))
                        for figure in figures
                    }
                    for solver in SOLVERS
                },
                "vs_statsmodels_without_longley": {
                    solver: {
                        figure: entry(largest(worst[figure, solver], "longley"))
                        for figure in figures
                    }
                    for solver in SOLVERS
                },
                "stream_vs_memory": {
                    solver: {
                        where: {
                            "max_rel_diff": streamed[where, solver][0],
                            "figure": streamed[where, solver][1],
                        }
                        for where in cases
                    }
                    for solver in SOLVERS
                },
                "longley_vs_exact_arithmetic": {
                    figure: {
                        "tapereg": values[0],
                        "statsmodels": values[1],
                        "exact_rounded": None if np.isnan(values[2]) else values[2],
                    }
                    for figure, values in exact.items()
                },
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
