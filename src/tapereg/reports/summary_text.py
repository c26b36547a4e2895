"""The fit's summary as text laid out like statsmodels' ``summary()``.

People read regression output in statsmodels' layout: a two-column header, the
coefficient table, the diagnostics block and numbered notes, 78 characters wide.
This writes the same blocks (with the same number formats) from tapereg's
statistics; the solver replaces statsmodels' date and time lines, which would make
the text differ from run to run.
"""

from __future__ import annotations

import numpy as np

from ..numerics.residuals import LARGE_CONDITION, SMALL_EIGENVALUE

WIDTH = 78
_LEFT, _GAP, _RIGHT = 37, 3, 38


def summary_text(stats, *, level, cov_type, target_names, solver) -> str:
    """A statsmodels-style summary of each target, blocks separated by a blank
    line."""
    return "\n\n".join(
        _one_target(stats, k, name, level, cov_type, solver)
        for k, name in enumerate(target_names)
    )


def _one_target(stats, k, name, level, cov_type, solver) -> str:
    found = stats.diagnostics
    model = "WLS" if found is not None and found.weighted else "OLS"
    left = [
        ("Dep. Variable:", str(name)),
        ("Model:", model),
        ("Method:", "Least Squares"),
        ("Solver:", "exact" if solver == "exact" else "gradient descent"),
        ("No. Observations:", f"{stats.nobs:d}"),
        ("Df Residuals:", f"{stats.df_resid:g}"),
        ("Df Model:", f"{stats.df_model:g}"),
        ("Covariance Type:", cov_type),
    ]
    if cov_type == "cluster" and stats.n_groups:
        left.append(("No. Clusters:", f"{stats.n_groups:d}"))
    right = [
        ("R-squared:", _number("%#8.3f", stats.rsquared[k])),
        ("Adj. R-squared:", _number("%#8.3f", stats.rsquared_adj[k])),
        ("F-statistic:", _number("%#8.4g", stats.fvalue[k])),
        ("Prob (F-statistic):", _number("%#6.3g", stats.f_pvalue[k])),
    ]
    if found is not None:
        right += [
            ("Log-Likelihood:", _number("%#8.5g", found.llf[k])),
            ("AIC:", _number("%#8.4g", found.aic[k])),
            ("BIC:", _number("%#8.4g", found.bic[k])),
        ]
    lines = [f"{model} Regression Results".center(WIDTH), "=" * WIDTH]
    lines += _two_columns(left, right)
    lines += ["=" * WIDTH, *_coefficients(stats, k, level, cov_type)]
    lines.append("=" * WIDTH)
    if found is not None:
        jb, jb_p, skew, kurtosis = found.jarque_bera[k]
        omnibus, omnibus_p = found.omnibus[k]
        dw = found.durbin_watson[k]
        lines += _two_columns(
            [
                ("Omnibus:", _number("%#8.3f", omnibus)),
                ("Prob(Omnibus):", _number("%#6.3f", omnibus_p)),
                ("Skew:", _number("%#8.3f", skew)),
                ("Kurtosis:", _number("%#8.3f", kurtosis)),
            ],
            [
                ("Durbin-Watson:", "n/a" if np.isnan(dw) else _number("%#8.3f", dw)),
                ("Jarque-Bera (JB):", _number("%#8.3f", jb)),
                ("Prob(JB):", _number("%#8.3g", jb_p)),
                ("Cond. No.", _number("%#8.3g", found.condition_number)),
            ],
        )
        lines.append("=" * WIDTH)
    notes = _notes(stats, cov_type)
    if notes:
        lines += ["", "Notes:"] + [
            f"[{number}] {note}" for number, note in enumerate(notes, 1)
        ]
    return "\n".join(lines)


def _number(form: str, value) -> str:
    value = float(value)
    return (form % value).strip() if np.isfinite(value) else str(value)


def _two_columns(left, right) -> list[str]:
    rows = max(len(left), len(right))
    left = left + [("", "")] * (rows - len(left))
    right = right + [("", "")] * (rows - len(right))
    return [
        f"{a}{b:>{_LEFT - len(a)}}{'':{_GAP}}{c}{d:>{_RIGHT - len(c)}}".rstrip()
        for (a, b), (c, d) in zip(left, right, strict=True)
    ]


def _coefficients(stats, k, level, cov_type) -> list[str]:
    """The table: statsmodels' columns and its number formats (4 figures for the
    estimates, 3 for the rest, exponents beyond [1e-4, 1e4); p-values to 3
    decimals)."""
    table = stats.table(level, k, cov_type)
    robust = cov_type != "nonrobust"
    heads = [
        "coef",
        "std err",
        "z" if robust else "t",
        "P>|z|" if robust else "P>|t|",
        f"[{(1 - level) / 2:.3g}",
        f"{(1 + level) / 2:.3g}]",
    ]
    names = [str(term) for term in table.index]
    width = max([10, *map(len, names)])
    widths = (11, 11, 11, 11, 12, 12)

    def line(first, cells):
        return f"{first:<{width}}" + "".join(
            f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)
        )

    lines = [line("", heads), "-" * WIDTH]
    for name, row in zip(names, table.itertuples(index=False), strict=True):
        coef, std_err, t, p_value, low, high = row
        cells = [_figure(coef, 4), *(_figure(v, 3) for v in (std_err, t))]
        cells += [_number("%#6.3f", p_value), _figure(low, 3), _figure(high, 3)]
        lines.append(line(name, cells))
    return lines


def _figure(value, precision: int) -> str:
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if value != 0 and not 1e-4 <= abs(value) < 1e4:
        return f"{value:.{precision}g}"
    return f"{value:.{precision}f}"


def _notes(stats, cov_type) -> list[str]:
    """statsmodels' notes: the covariance's assumption, then a singular or
    ill-conditioned design; ours: Durbin–Watson without a row order."""
    if cov_type == "nonrobust":
        notes = [
            "Standard Errors assume that the covariance matrix of the errors is "
            "correctly specified."
        ]
    elif cov_type == "cluster":
        notes = ["Standard Errors are robust to cluster correlation (cluster)"]
    else:
        notes = [f"Standard Errors are heteroscedasticity robust ({cov_type})"]
    found = stats.diagnostics
    if found is None:
        return notes
    if found.smallest_eigenvalue < SMALL_EIGENVALUE:
        notes.append(
            f"The smallest eigenvalue is {found.smallest_eigenvalue:6.3g}. This "
            "might indicate that there are\nstrong multicollinearity problems or "
            "that the design matrix is singular."
        )
    elif found.condition_number > LARGE_CONDITION:
        notes.append(
            f"The condition number is large, {found.condition_number:.3g}. This "
            "might indicate that there are\nstrong multicollinearity or other "
            "numerical problems."
        )
    if np.isnan(found.durbin_watson).all():
        notes.append(
            "Durbin-Watson is not given: the rows were split across workers and "
            "have no one order."
        )
    return notes
