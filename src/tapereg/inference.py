"""OLS inference on a fitted LinearRegressor: tables, covariances, intervals, tests.

A mixin, so the estimator stays the fitting class: every method reads the fitted
``statistics_`` (``numerics.statistics``, with the covariances ``numerics.robust``
adds) and the pure functions of ``numerics.statistics`` and ``numerics.hypotheses``;
nothing here touches data it was not given.
"""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from .errors import ParameterError
from .fitting.validation import features_to_predict
from .numerics.linear import target_names

# The fitted attributes of statsmodels' summary diagnostics.
DIAGNOSTICS = (
    "llf_",
    "aic_",
    "bic_",
    "durbin_watson_",
    "jarque_bera_",
    "omnibus_",
    "condition_number_",
    "vif_",
)


class OLSInference:
    """``summary``, ``cov_params``, ``predict_interval``, ``f_test`` and ``t_test``
    of a fitted linear model (ordinary or weighted least squares)."""

    def summary(self, level: float = 0.95, cov_type: str | None = None):
        """The coefficient table: estimate, standard error, t, p-value, interval.

        Ordinary least-squares inference (weighted least squares with
        ``sample_weight``), the same numbers as statsmodels' OLS/WLS.

        Parameters
        ----------
        level : float, default=0.95
            Confidence level of ``ci_low``/``ci_high``.
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, optional
            The coefficients' covariance, as statsmodels' ``fit(cov_type=...)``
            (default: the estimator's ``cov_type``). The robust types' ``t`` is a
            z statistic, with p-values and intervals from the normal distribution
            (statsmodels' default for them); they need a fit with a robust
            ``cov_type``.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``intercept`` (when fitted) and the feature names, with columns
            ``coef, std_err, t, p_value, ci_low, ci_high``. With several targets the
            index is (target, term).
        """
        stats, cov_type = self._inference("summary()", cov_type)
        check_level(level)
        return self._per_target(
            [stats.table(level, j, cov_type) for j in range(stats.coef.shape[1])]
        )

    def cov_params(self, cov_type: str | None = None):
        """The covariance matrix of the coefficients, terms × terms.

        Parameters
        ----------
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, optional
            As for :meth:`summary`; the same matrices as statsmodels'
            ``OLS(...).fit(cov_type=...).cov_params()`` (``WLS`` with weights).

        Returns
        -------
        pandas.DataFrame
            Rows and columns are the terms of :meth:`summary` (``intercept`` first
            when fitted); with several targets the rows are (target, term).
        """
        import pandas as pd

        stats, cov_type = self._inference("cov_params()", cov_type)
        return self._per_target(
            [
                pd.DataFrame(matrix, index=stats.terms, columns=stats.terms)
                for matrix in kept_covariances(stats, cov_type, "cov_params()")
            ]
        )

    def predict_interval(self, X, level: float = 0.95, cov_type: str | None = None):
        """Predictions with the standard error of the mean and intervals for the
        mean and for a new observation, as statsmodels' ``get_prediction``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        level : float, default=0.95
            Confidence level of the intervals.
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, optional
            As for :meth:`summary` (default: the estimator's ``cov_type``).

        Returns
        -------
        pandas.DataFrame
            Columns ``mean, mean_se, mean_ci_lower, mean_ci_upper, obs_ci_lower,
            obs_ci_upper`` (statsmodels' ``summary_frame()``); with several
            targets a block of them per target, the columns (target, column).
        """
        import pandas as pd

        from .numerics.statistics import prediction_table

        stats, cov_type = self._inference("predict_interval()", cov_type)
        kept_covariances(stats, cov_type, "predict_interval()")
        check_level(level)
        index = getattr(X, "index", None)  # the caller's rows keep their labels
        X = features_to_predict(self, self._encoded(X))
        frames = [
            pd.DataFrame(prediction_table(stats, X, level, k, cov_type), index=index)
            for k in range(stats.coef.shape[1])
        ]
        if len(frames) == 1:
            return frames[0]
        names = target_names(getattr(self, "target_names_", None), len(frames))
        return pd.concat(frames, axis=1, keys=names, names=["target", None])

    def f_test(self, restrictions, cov_type: str | None = None):
        """The Wald F test of linear restrictions on the coefficients.

        Parameters
        ----------
        restrictions : str, array-like or (array-like, array-like)
            statsmodels' syntax over the summary's term names, such as
            ``"x1 = 0, x2 = x3"`` or ``"intercept + 2*x1 = 1"``; or a matrix R
            (terms as columns) meaning R·β = 0; or a pair (R, q) meaning R·β = q.
        cov_type : str, optional
            The covariance the test uses (default: the estimator's ``cov_type``).

        Returns
        -------
        pandas.Series or pandas.DataFrame
            ``fvalue``, ``p_value``, ``df_num`` (the rank of R·V·Rᵀ) and
            ``df_denom`` (the residual degrees of freedom; G − 1 with clusters), as
            statsmodels' ``f_test``; a row per target for several.
        """
        import pandas as pd

        from .numerics.hypotheses import f_test, restriction_matrix

        stats, cov_type = self._inference("f_test()", cov_type)
        R, q, _ = restriction_matrix(restrictions, stats.terms)
        rows = [
            f_test(stats.coef[:, k], cov, R, q, _df_denom(stats, cov_type))
            for k, cov in enumerate(kept_covariances(stats, cov_type, "f_test()"))
        ]
        if len(rows) == 1:
            return pd.Series(rows[0])
        names = target_names(getattr(self, "target_names_", None), len(rows))
        return pd.DataFrame(rows, index=pd.Index(names, name="target"))

    def t_test(self, restrictions, level: float = 0.95, cov_type: str | None = None):
        """A t test of each linear restriction (z for robust covariances).

        Parameters
        ----------
        restrictions : str, array-like or (array-like, array-like)
            As for :meth:`f_test`; each restriction is tested on its own.
        level : float, default=0.95
            Confidence level of ``ci_low``/``ci_high``.
        cov_type : str, optional
            As for :meth:`f_test`.

        Returns
        -------
        pandas.DataFrame
            A row per restriction (labelled by its text, or ``c0, c1, ...``):
            ``coef`` (R·β), ``std_err``, ``t``, ``p_value``, ``ci_low``,
            ``ci_high``, as statsmodels' ``t_test(...).summary_frame()``; rows
            (target, restriction) for several targets.
        """
        import pandas as pd

        from .numerics.hypotheses import restriction_matrix, t_test

        stats, cov_type = self._inference("t_test()", cov_type)
        check_level(level)
        R, q, labels = restriction_matrix(restrictions, stats.terms)
        frames = [
            pd.DataFrame(
                t_test(
                    stats.coef[:, k],
                    cov,
                    R,
                    q,
                    _df_denom(stats, cov_type),
                    normal=cov_type != "nonrobust",
                    level=level,
                ),
                index=pd.Index(labels, name="restriction"),
            )
            for k, cov in enumerate(kept_covariances(stats, cov_type, "t_test()"))
        ]
        return self._per_target(frames)

    def summary_text(self, level: float = 0.95, cov_type: str | None = None) -> str:
        """The fit's summary laid out as statsmodels' ``summary()`` prints it.

        The header (dependent variable, model, observations, degrees of freedom,
        R², adjusted R², F, its p-value, log-likelihood, AIC, BIC, covariance
        type), the coefficient table under ``cov_type``, the diagnostics
        (omnibus, Durbin–Watson, Jarque–Bera, skew, kurtosis, condition number)
        and statsmodels' notes; a block per target.
        """
        from .reports.summary_text import summary_text

        stats, cov_type = self._inference("summary_text()", cov_type)
        check_level(level)
        names = target_names(getattr(self, "target_names_", None), stats.coef.shape[1])
        return summary_text(
            stats,
            level=level,
            cov_type=cov_type,
            target_names=names,
            solver=self.solver,
        )

    def _diagnostics_attributes(self, stats) -> dict:
        """The diagnostics' fitted attributes (``DIAGNOSTICS``) from the
        statistics: floats for one target, arrays or frames for several."""
        import pandas as pd

        from .numerics.residuals import JARQUE_BERA, OMNIBUS

        found = stats.diagnostics
        n_targets = stats.coef.shape[1]
        names = target_names(getattr(self, "target_names_", None), n_targets)

        def per_target(values):
            return float(values[0]) if n_targets == 1 else values

        def table(values, columns):
            if n_targets == 1:
                return pd.Series(values[0], index=columns)
            return pd.DataFrame(
                values, index=pd.Index(names, name="target"), columns=columns
            )

        features = stats.terms[len(stats.terms) - len(found.vif) :]
        return {
            "llf_": per_target(found.llf),
            "aic_": per_target(found.aic),
            "bic_": per_target(found.bic),
            "durbin_watson_": per_target(found.durbin_watson),
            "jarque_bera_": table(found.jarque_bera, JARQUE_BERA),
            "omnibus_": table(found.omnibus, OMNIBUS),
            "condition_number_": float(found.condition_number),
            "vif_": pd.Series(found.vif, index=pd.Index(features, name="feature")),
        }

    def _inference(self, method: str, cov_type: str | None):
        """(the OLS statistics, the cov_type), after checking they exist and
        have it."""
        from .fitting.choices import COV_TYPES

        check_is_fitted(self)
        if cov_type is None:
            cov_type = self.cov_type
        params = self._fit_params()  # a LinearRegressorCV's: its refit's
        alpha = params["alpha"]
        if alpha:
            raise ParameterError(
                f"{method} is for ordinary least squares; this model has a penalty "
                f"(alpha={alpha}), and its standard errors would not be valid"
            )
        if getattr(self, "positive", False):
            raise ParameterError(
                f"{method} is for unconstrained least squares; this model was "
                "fitted with positive=True, and its standard errors would not be "
                "valid"
            )
        loss = params["loss"]
        if loss != "squared_error":
            raise ParameterError(
                f"{method} is for least squares; this model minimizes "
                f"loss={loss!r}, whose coefficients have no OLS standard errors"
            )
        if not hasattr(self, "statistics_"):
            raise ParameterError(
                f"{method} needs the OLS statistics, which this model was fitted "
                "without (compute_statistics=False); refit without "
                "compute_statistics=False"
            )
        if cov_type not in COV_TYPES:
            raise ParameterError(
                f"cov_type must be one of {', '.join(COV_TYPES)}, got {cov_type!r}"
            )
        stats = self.statistics_
        if cov_type != "nonrobust" and stats.cov is None:
            raise ParameterError(
                f"this model keeps no covariance matrices ({len(stats.terms)} terms, "
                "over 1,001, or saved by an older tapereg)"
            )
        if cov_type != "nonrobust" and cov_type not in stats.cov:
            raise ParameterError(
                f"this model keeps no {cov_type} covariance: it was fitted with "
                f"cov_type={self.cov_type!r}; refit with cov_type={cov_type!r} "
                "(one more pass over the rows gives every HC type)"
            )
        return stats, cov_type

    def _per_target(self, frames):
        """One target's frame, or several stacked under a (target, row) index."""
        if len(frames) == 1:
            return frames[0]
        import pandas as pd

        names = getattr(self, "target_names_", None)
        return pd.concat(
            frames,
            keys=target_names(names, len(frames)),
            names=["target", frames[0].index.name or "term"],
        )


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}")


def _df_denom(stats, cov_type: str) -> float:
    """The tests' degrees of freedom: G − 1 with clusters (statsmodels')."""
    if cov_type == "cluster" and stats.n_groups:
        return float(stats.n_groups - 1)
    return float(stats.df_resid)


def kept_covariances(stats, cov_type: str, method: str):
    """The (n_targets, p, p) covariances of ``cov_type``; refused where no matrix
    is kept (over ``MAX_COV_TERMS`` terms)."""
    if stats.cov is None:
        raise ParameterError(
            f"{method} needs the covariance matrix, which is not kept for "
            f"{len(stats.terms)} terms (over 1,001: each would take terms² "
            "numbers); summary() has the standard errors"
        )
    return stats.cov[cov_type]
