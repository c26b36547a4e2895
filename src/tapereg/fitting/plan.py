"""How a fit runs, decided once from the parameters, in small pure functions.

:func:`check_params` refuses unusable values; :func:`make_plan` turns the
estimator's parameters into a :class:`FitPlan`; the rest resolve what depends on
the data as it becomes known (the engine on the number of features, the update on
the spectrum, the penalty on the standardization).
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from ..errors import ParameterError, warn
from ..numerics.gram import GRAM_MAX_FEATURES
from ..numerics.stepsize import ADAM_AUTO_LEARNING_RATE
from .choices import (
    CATEGORICAL,
    COV_TYPES,
    DTYPES,
    ENGINES,
    KINKED_LOSSES,
    LOSSES,
    MISSING,
    OPTIMIZER_CHOICES,
    SOLVERS,
    STRATEGIES,
)


@dataclass(frozen=True)
class FitPlan:
    """The parameters of one fit, checked, with what could be decided up front."""

    solver: str
    engine: str  # as asked: "auto", "gram" or "data"
    optimizer: str
    learning_rate: float | str
    max_iter: int
    tol: float | None
    n_iter_no_change: int
    batch_size: int | None
    fit_intercept: bool
    standardize: bool
    alpha: float
    l1_ratio: float
    momentum: float
    nesterov: bool
    dtype: np.dtype
    random_state: object  # None, an int or a RandomState: seeds mini-batches
    compute_statistics: bool
    cov_type: str = "nonrobust"
    positive: bool = False
    loss: str = "squared_error"
    epsilon: float = 0.1  # huber's and epsilon_insensitive's ε, in target units
    quantile: float = 0.5
    # Where training starts, (coef (d, t), intercept (t,)) in the original units:
    # the data engine's partial_fit goes on from the last call's fit.
    initial: tuple | None = None
    # The intercept's name among the terms: statsmodels' "Intercept" under a formula.
    intercept_name: str = "intercept"
    checkpoint: object = None  # a runtime.checkpoints.CheckpointPlan, or None

    @property
    def l1_strength(self) -> float:
        return self.alpha * self.l1_ratio if self.alpha else 0.0

    def seed(self) -> int:
        """The mini-batch order's seed, drawn from ``random_state`` (as scikit-learn
        estimators draw theirs): only fits that shuffle draw one."""
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    @property
    def automatic_step(self) -> bool:
        """Whether the step comes from the curvature (``learning_rate="auto"``)."""
        return self.learning_rate == "auto" and self.optimizer != "adam"


def make_plan(params: dict) -> FitPlan:
    """The plan of a fit with these (checked) estimator parameters."""
    checkpoint = None
    if params["checkpoint_dir"] is not None:
        from ..runtime.checkpoints import CheckpointPlan

        checkpoint = CheckpointPlan(
            str(params["checkpoint_dir"]),
            params["checkpoint_every"],
            resume=params["resume"],
        )
    return FitPlan(
        solver=params["solver"],
        engine=params["engine"],
        optimizer=params["optimizer"],
        learning_rate=params["learning_rate"],
        max_iter=params["max_iter"],
        tol=params["tol"],
        n_iter_no_change=params["n_iter_no_change"],
        batch_size=params["batch_size"],
        fit_intercept=bool(params["fit_intercept"]),
        standardize=bool(params["standardize"]),
        alpha=params["alpha"],
        l1_ratio=params["l1_ratio"],
        momentum=params["momentum"],
        nesterov=bool(params["nesterov"]),
        dtype=np.dtype(params["dtype"]),
        random_state=params["random_state"],
        compute_statistics=bool(params["compute_statistics"]),
        cov_type=params["cov_type"],
        positive=bool(params["positive"]),
        loss=params["loss"],
        epsilon=float(params["epsilon"]),
        quantile=float(params["quantile"]),
        checkpoint=checkpoint,
    )


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


MAX_SEED = 2**32 - 1  # numpy.random.RandomState takes seeds up to this

# (parameter, accepts its value, what it must be)
_RULES = (
    (
        "learning_rate",
        lambda v: v == "auto" if isinstance(v, str) else _is_real(v) and 0 < v < np.inf,
        '"auto" or a number > 0',
    ),
    ("max_iter", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    (
        "optimizer",
        lambda v: v in OPTIMIZER_CHOICES,
        f"one of {', '.join(OPTIMIZER_CHOICES)}",
    ),
    ("engine", lambda v: v in ENGINES, f"one of {', '.join(ENGINES)}"),
    (
        "batch_size",
        lambda v: v is None or (_is_int(v) and v >= 1),
        "None or an integer >= 1",
    ),
    (
        "tol",
        lambda v: v is None or (_is_real(v) and 0 <= v < 1),
        "None or a number in [0, 1)",
    ),
    ("n_iter_no_change", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    ("solver", lambda v: v in SOLVERS, f"one of {', '.join(SOLVERS)}"),
    ("momentum", lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
    ("checkpoint_every", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    ("verbose", lambda v: v in (0, 1, 2, False, True), "0, 1 or 2"),
    ("alpha", lambda v: _is_real(v) and 0 <= v < np.inf, "a number >= 0"),
    ("l1_ratio", lambda v: _is_real(v) and 0 <= v <= 1, "a number in [0, 1]"),
    (
        "strategy",
        lambda v: not isinstance(v, str) or v in STRATEGIES,
        f"one of {', '.join(STRATEGIES)} or a tf.distribute.Strategy",
    ),
    ("dtype", lambda v: dtype_name(v) in DTYPES, '"float32" or "float64"'),
    ("cov_type", lambda v: v in COV_TYPES, f"one of {', '.join(COV_TYPES)}"),
    (
        "formula",
        lambda v: v is None or (isinstance(v, str) and v.strip() != ""),
        'None or a formula such as "y ~ x1 + C(group)"',
    ),
    ("categorical", lambda v: v in CATEGORICAL, f"one of {', '.join(CATEGORICAL)}"),
    ("missing", lambda v: v in MISSING, f"one of {', '.join(MISSING)}"),
    ("positive", lambda v: isinstance(v, bool | np.bool_), "True or False"),
    ("loss", lambda v: v in LOSSES, f"one of {', '.join(LOSSES)}"),
    ("epsilon", lambda v: _is_real(v) and 0 <= v < np.inf, "a number >= 0"),
    ("quantile", lambda v: _is_real(v) and 0 < v < 1, "a number in (0, 1)"),
    ("warm_start", lambda v: isinstance(v, bool | np.bool_), "True or False"),
    (
        "random_state",
        lambda v: (
            v is None
            or isinstance(v, np.random.RandomState)
            or (_is_int(v) and 0 <= v <= MAX_SEED)
        ),
        f"None, an integer from 0 to {MAX_SEED} (NumPy's seeds) or a RandomState",
    ),
)


def dtype_name(value) -> str | None:
    """NumPy's name of a dtype given any way (``np.float64``, ``"float64"``), or
    None for what is not a dtype."""
    try:
        return np.dtype(value).name
    except TypeError:
        return None


def check_params(params: dict) -> None:
    """Raise ParameterError naming the first parameter with an unusable value."""
    for name, accepts, expected in _RULES:
        if not accepts(params[name]):
            raise ParameterError(f"{name} must be {expected}, got {params[name]!r}")
    if params["positive"] and params["solver"] == "exact" and params["alpha"]:
        raise ParameterError(
            "solver='exact' solves non-negative least squares without a penalty; "
            f"positive=True with alpha={params['alpha']} needs solver='gd'"
        )
    if params["loss"] != "squared_error":
        _check_loss(params)
    if params["formula"] is not None and not params["fit_intercept"]:
        raise ParameterError(
            "a formula decides the intercept: write '- 1' in it "
            f"({params['formula']!r}) instead of fit_intercept=False"
        )
    if params["resume"] and params["checkpoint_dir"] is None:
        raise ParameterError("resume=True needs checkpoint_dir")
    l1 = params["alpha"] * params["l1_ratio"] if params["alpha"] else 0.0
    if l1 > 0 and params["solver"] == "exact":
        raise ParameterError(
            "solver='exact' solves ridge only (l1_ratio=0); an L1 penalty "
            f"(alpha={params['alpha']}, l1_ratio={params['l1_ratio']}) needs "
            "solver='gd'"
        )
    if l1 > 0 and params["optimizer"] == "adam":
        raise ParameterError(
            "an L1 penalty needs optimizer 'gd' or 'momentum': its proximal step "
            "needs one step size for every coefficient, which Adam does not have"
        )


def _check_loss(params: dict) -> None:
    """Refuse what only the squared error has: a closed form, moments, a
    covariance of the coefficients."""
    loss = params["loss"]
    if params["solver"] == "exact":
        raise ParameterError(
            f"solver='exact' solves least squares; loss={loss!r} trains by "
            "gradient descent: use solver='gd'"
        )
    if params["engine"] == "gram":
        raise ParameterError(
            f"engine='gram' trains on the moments of the squared error; "
            f"loss={loss!r} needs the rows: use engine='data' or 'auto'"
        )
    if params["cov_type"] != "nonrobust":
        raise ParameterError(
            f"cov_type={params['cov_type']!r} is a covariance of least squares; "
            f"loss={loss!r} has no inference here"
        )
    if loss in KINKED_LOSSES and params["checkpoint_dir"] is not None:
        raise ParameterError(
            f"loss={loss!r} trains in stages, which checkpoints do not keep: "
            "drop checkpoint_dir"
        )


def clamp_batch_size(plan: FitPlan, n_rows: int) -> FitPlan:
    """The plan with full batches where ``batch_size`` exceeds the rows, said in a
    warning: as scikit-learn's MLP clamps its batches, not an error, since one
    setting serves data sets of every size; but no one should believe mini-batches
    ran. Full batches may then train on the gram engine."""
    if plan.batch_size is None or plan.batch_size <= n_rows:
        return plan
    warn(
        f"batch_size={plan.batch_size} is larger than the {n_rows} rows; "
        f"training uses full batches of all {n_rows}",
        UserWarning,
    )
    return dataclasses.replace(plan, batch_size=None)


def resolve_engine(
    engine: str, batch_size: int | None, n_features: int, loss="squared_error"
) -> str:
    """The engine "auto" means: gram for full-batch least squares with at most
    ``GRAM_MAX_FEATURES`` features, data otherwise (every other loss needs the
    rows)."""
    if loss != "squared_error":
        return "data"
    if engine == "gram" and batch_size is not None:
        raise ParameterError(
            "engine='gram' trains on the full batch; drop batch_size or use "
            "engine='data'"
        )
    if engine != "auto":
        return engine
    full_batch = batch_size is None
    return "gram" if full_batch and n_features <= GRAM_MAX_FEATURES else "data"


def resolve_update(plan: FitPlan, lipschitz, strong_convexity=None):
    """(optimizer, learning_rate, momentum) for this fit.

    ``optimizer="auto"`` with the exact spectrum (gram engine), no L1 part and an
    automatic step is heavy-ball momentum with the constants that are optimal for
    a quadratic: step 4/(√L+√μ)², momentum ((√κ−1)/(√κ+1))², κ = L/μ (about √κ
    epochs where gradient descent needs κ); the gram engine uses it only where
    whitening has nothing to train (``gradient.train_whitened``). Otherwise "auto"
    is the seeds' gradient descent, and an automatic step is 1/L.
    """
    optimizer, momentum = plan.optimizer, plan.momentum
    automatic = plan.learning_rate == "auto"
    if optimizer == "auto" and plan.loss != "squared_error" and plan.batch_size is None:
        # Curvature that changes with the residuals: no momentum constant fits.
        optimizer = "accelerated"
    if optimizer == "auto":
        if strong_convexity is not None and automatic and not plan.l1_strength:
            mu = max(strong_convexity, lipschitz * 1e-12)
            root_kappa = np.sqrt(lipschitz / mu)
            step = 4 / (np.sqrt(lipschitz) + np.sqrt(mu)) ** 2
            momentum = ((root_kappa - 1) / (root_kappa + 1)) ** 2
            return "momentum", float(step), float(momentum)
        optimizer = "gd"
    if not automatic:
        return optimizer, float(plan.learning_rate), momentum
    if optimizer == "adam":
        return optimizer, ADAM_AUTO_LEARNING_RATE, momentum
    return optimizer, 1.0 / lipschitz if lipschitz > 0 else 1.0, momentum


def penalty_weights(plan: FitPlan, scaling, n_targets: int):
    """(l1, l2): the elastic-net weights in the standardized units training sees.

    With w = v·σ_y/σ_x, the original objective divided by σ_y² is the training
    MSE plus Σ 2·alpha·l1_ratio/(σ_y·σ_x)·|v| + alpha·(1 − l1_ratio)/σ_x²·v².
    (Twice sklearn's objective: our loss is the MSE, not half of it.)
    """
    if not plan.alpha:
        return None, None
    x_scale = scaling.x_scale[:, None]
    # A loss of degree one in the residual (pinball, ε-insensitive) is divided
    # by σ_y, not σ_y²: its penalty weighs σ_y times more in training units.
    ones = np.ones((1, n_targets))
    if plan.loss in KINKED_LOSSES:
        ones = scaling.y_scale[None, :] * ones
    l1 = 2 * plan.l1_strength / (x_scale * scaling.y_scale[None, :]) * ones
    l2 = plan.alpha * (1 - plan.l1_ratio) / x_scale**2 * ones
    return (
        l1 if plan.l1_ratio > 0 else None,
        l2 if plan.l1_ratio < 1 else None,
    )
