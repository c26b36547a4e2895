"""Gradient descent on each engine: prepare its data, pick the step, train.

The gram engine trains on the moments; the data engine on the rows, in memory or
from a row cache filled in one pass. Each picks the automatic step from the
curvature, resolves the update and hands the data to the TensorFlow core
(``tapereg.core.train``), imported only here and only when training runs.
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
from scipy.linalg import eigvalsh

from ..errors import DivergenceError
from ..numerics.arrays import aligned
from ..numerics.checks import check_fits_dtype
from ..numerics.gram import gram_from_moments, hessian_spectrum
from ..numerics.stepsize import auto_lipschitz, batch_lipschitz, largest_row
from .choices import KINKED_LOSSES
from .diagnostics import warn_about_curvature
from .plan import FitPlan, resolve_update

# A loss with a kink settles each stage of its envelope to this without a tol.
SMOOTHING_TOL = 1e-8


def _options(plan: FitPlan, scaling, l1, l2, callback, *, step=None, **more) -> dict:
    """The options every engine passes to ``core.train.train`` (``step``: the
    learning rate, which a loss with a kink scales stage by stage)."""
    if plan.initial is not None:  # from the original units to the training ones
        coef, intercept = plan.initial
        more["initial_coef"] = coef * scaling.x_scale[:, None] / scaling.y_scale
        more["initial_intercept"] = (
            intercept - scaling.y_mean + scaling.x_mean @ coef
        ) / scaling.y_scale
    if plan.loss != "squared_error":
        more.update(_loss_options(plan, scaling, step))
    return dict(
        fit_intercept=plan.fit_intercept,
        max_iter=plan.max_iter,
        tol=plan.tol,
        n_iter_no_change=plan.n_iter_no_change,
        loss_scale=_loss_scale(plan, scaling),
        l1=l1,
        l2=l2,
        callback=callback,
        checkpoint=plan.checkpoint,
        nesterov=plan.nesterov,
        positive=plan.positive,
        **more,
    )


def _loss_scale(plan: FitPlan, scaling):
    """From the training loss per target to the recorded one: the squared error
    in the target's units (σ_y²); the other losses as scikit-learn writes them
    (half the tape's, see ``core.losses.RowLoss``), of degree 2 (huber) or 1 in
    the residual."""
    if plan.loss == "squared_error":
        return scaling.y_scale**2
    if plan.loss == "huber":
        return scaling.y_scale**2 / 2
    return scaling.y_scale / 2


def _loss_options(plan: FitPlan, scaling, learning_rate) -> dict:
    """The loss's settings in the training units (ε/σ_y), and for a loss with a
    kink on full batches the stages of its envelope (``core.train.Smoothing``):
    from one σ of the target down to a width whose gap to the loss is √tol of
    it, each stage settling to tol, at the step 1/L times the width.
    Mini-batches take subgradient steps on the loss itself."""
    from ..core.train import Smoothing

    options = {
        "loss": plan.loss,
        "epsilon": plan.epsilon / scaling.y_scale,
        "quantile": plan.quantile,
    }
    full_batch = plan.batch_size is None
    if plan.loss in KINKED_LOSSES and learning_rate is not None and full_batch:
        tol = plan.tol if plan.tol else SMOOTHING_TOL
        bias = max(plan.quantile, 1 - plan.quantile) ** 2
        options["smoothing"] = Smoothing(
            first_width=np.ones(len(scaling.y_scale)),
            step_per_width=learning_rate,
            bias=bias if plan.loss == "quantile" else 1.0,
            target=np.sqrt(tol),
            tol=tol,
        )
    return options


def train_on_gram(gram, plan: FitPlan, l1, l2, scaling, callback, n_samples: int):
    """The gram engine with the update asked for (the defaults train on the
    whitened problem instead: :func:`train_whitened`): O(d²) epochs.

    Its moments are already every worker's, so its epochs need no reducer.
    """
    from ..core.train import fit_gradient_descent_gram

    n_targets = gram.xy.shape[1]
    lipschitz, mu = hessian_spectrum(
        gram, fit_intercept=plan.fit_intercept, n_targets=n_targets, l2=l2
    )
    if not plan.standardize:
        warn_about_curvature(gram, fit_intercept=plan.fit_intercept)
    optimizer, learning_rate, momentum = resolve_update(plan, lipschitz, mu)
    with _explaining_divergence(plan, lipschitz / mu if mu > 0 else np.inf):
        result = fit_gradient_descent_gram(
            gram,
            learning_rate=learning_rate,
            optimizer=optimizer,
            momentum=momentum,
            **_options(plan, scaling, l1, l2, callback),
        )
    return result, optimizer


def whitens(plan: FitPlan, l1) -> bool:
    """Whether the gram engine trains on the whitened problem: the defaults
    (automatic step, automatic optimizer) without an L1 penalty."""
    return (
        plan.optimizer == "auto"
        and plan.automatic_step
        and l1 is None
        and not plan.positive  # w ≥ 0 is a box only in the original coordinates
        and plan.initial is None  # a start is given in the original coordinates
    )


def train_whitened(whitened, plan: FitPlan, scaling, callback):
    """Gradient descent with the tape on the whitened gram, from zero, at the
    automatic step 1/L: the seeds' update on a problem whose curvature is the
    same in every direction, so it reaches the optimum in one step whatever the
    conditioning (to the precision of the whitening), and the loss falls at every
    epoch. Back to (w, b) through P."""
    from ..core.train import fit_gradient_descent_gram

    n_targets = whitened.gram.xy.shape[1]
    # L = 2/t·λmax(PᵀMP), ≈ 2/t: only the largest eigenvalue is needed.
    k = whitened.gram.xx.shape[0]
    largest = eigvalsh(whitened.gram.xx, subset_by_index=[k - 1, k - 1])[0]
    lipschitz = 2.0 * float(largest) / n_targets
    options = _options(plan, scaling, None, None, callback)
    options["fit_intercept"] = False
    result = fit_gradient_descent_gram(
        whitened.gram, learning_rate=1.0 / lipschitz, optimizer="gd", **options
    )
    coef, intercept = whitened.parameters(result.coef, plan.fit_intercept)
    result = dataclasses.replace(result, coef=coef, intercept=intercept)
    return result, "whitened gd"


@contextlib.contextmanager
def _explaining_divergence(plan: FitPlan, condition: float | None = None):
    """A divergence after the automatic step, said as what it is: the step came
    from the curvature, so it is the problem's conditioning (at this precision),
    not a step the user chose; the remedy is the exact solver."""
    try:
        yield
    except DivergenceError as error:
        if not plan.automatic_step or error.epoch is None:
            raise
        kappa = "" if condition is None else f" (condition number {condition:.3g})"
        raise DivergenceError(
            f"loss became {error.loss:.4g} at epoch {error.epoch} with the automatic "
            f"step: the problem is too ill-conditioned{kappa} for gradient descent "
            "at this precision, its features nearly collinear; use solver='exact' "
            "(--solver exact), or drop a feature"
        ) from None


def lipschitz_from_moments(plan: FitPlan, moments, scaling, l2, largest, reducer):
    """The L behind ``learning_rate="auto"`` from the (pooled) moments: the exact
    full-batch constant, the larger one of a random batch for mini-batches (from
    the largest row of every worker's), plus the L2 penalty's curvature. None
    when the step is not automatic."""
    if not plan.automatic_step:
        return None
    n_targets = moments.mean.shape[0] - moments.n_features
    lipschitz, _ = hessian_spectrum(
        gram_from_moments(moments, scaling),
        fit_intercept=plan.fit_intercept,
        n_targets=n_targets,
    )
    n_rows = moments.n_samples
    if plan.batch_size is not None and plan.batch_size < n_rows:
        lipschitz = batch_lipschitz(
            lipschitz,
            2.0 * reducer.maximum(largest) / n_targets,
            n_samples=n_rows,
            batch_size=plan.batch_size,
        )
    return lipschitz + (0.0 if l2 is None else 2.0 * float(np.max(l2)) / n_targets)


def batch_plan(plan: FitPlan, reducer, n_local: int, n_all: int) -> dict:
    """Mini-batches as every worker takes them (this worker's rows per step, and
    the steps per epoch where all must make the same number); the full batch
    when ``batch_size`` is unset or covers every row."""
    if plan.batch_size is None or plan.batch_size >= n_all:
        return {"batch_size": None}
    local, steps = reducer.batches(n_local, n_all, plan.batch_size)
    return {"batch_size": local, "steps": steps}


def _training_rows(source, plan: FitPlan, scaling, X, Y, first_row: int = 0):
    """X and Y in the training units and dtype; a value that overflows it refused."""
    dtype = plan.dtype
    with np.errstate(over="ignore"):  # an overflow is refused next
        if plan.standardize:
            X_train, Y_train = (
                scaling.transform_X(X, dtype),
                scaling.transform_y(Y, dtype),
            )
        else:
            X_train, Y_train = aligned(X, dtype), aligned(Y, dtype)
    for cast, original, name, columns in (
        (X_train, X, "X", source.feature_names),
        (Y_train, Y, "y", source.target_names),
    ):
        check_fits_dtype(
            cast,
            original,
            name,
            columns,
            first_row=first_row,
            standardized=plan.standardize,
        )
    return X_train, Y_train


def train_on_rows(source, plan: FitPlan, reducer, moments, scaling, l1, l2, callback):
    """The data engine on rows in memory: each epoch streams them through the tape.

    With the moments (across workers) the step comes from them; with every row
    here, from power iteration on the rows.
    """
    from ..core.train import fit_gradient_descent

    X, Y, sample_weight = source.arrays
    X_train, Y_train = _training_rows(source, plan, scaling, X, Y)
    weights = None if sample_weight is None else aligned(sample_weight, plan.dtype)
    lipschitz = None
    batches = {"batch_size": plan.batch_size}
    if moments is not None:
        mean_weight = moments.total_weight / moments.n_samples
        largest = largest_row(X_train, weights, mean_weight, plan.fit_intercept)
        lipschitz = lipschitz_from_moments(plan, moments, scaling, l2, largest, reducer)
        batches = batch_plan(plan, reducer, X_train.shape[0], moments.n_samples)
    elif plan.automatic_step:
        lipschitz = auto_lipschitz(
            X_train,
            weights,
            fit_intercept=plan.fit_intercept,
            n_targets=Y.shape[1],
            batch_size=plan.batch_size,
            l2_max=0.0 if l2 is None else float(np.max(l2)),
        )
    optimizer, learning_rate, momentum = resolve_update(plan, lipschitz)
    with _explaining_divergence(plan):
        result = fit_gradient_descent(
            X_train,
            Y_train,
            weights,
            learning_rate=learning_rate,
            **batches,
            seed=plan.seed(),
            optimizer=optimizer,
            momentum=momentum,
            **_options(
                plan, scaling, l1, l2, callback, step=learning_rate, reducer=reducer
            ),
        )
    return result, optimizer


def train_on_stream(source, plan: FitPlan, reducer, moments, scaling, l1, l2, callback):
    """The data engine on a stream: one pass caches the training rows in the
    training dtype, then every epoch reads the cache (tf.data)."""
    from ..core.train import fit_gradient_descent_blocks
    from ..runtime.row_cache import RowCache

    d, t = source.n_features, source.n_targets
    weighted = moments.weighted
    n_columns = d + t + int(weighted)
    mean_weight = moments.total_weight / moments.n_samples
    with RowCache(n_columns, plan.dtype) as cache:
        largest = 0.0  # max s_i·‖a_i‖²/s̄, for the mini-batch step
        for X, Y, sample_weight in source.blocks():
            X_train, Y_train = _training_rows(
                source, plan, scaling, X, Y, first_row=cache.n_rows
            )
            rows = np.empty((X.shape[0], n_columns), plan.dtype)
            rows[:, :d], rows[:, d : d + t] = X_train, Y_train
            if weighted:
                rows[:, -1] = sample_weight
            largest = max(
                largest,
                largest_row(
                    rows[:, :d], sample_weight, mean_weight, plan.fit_intercept
                ),
            )
            cache.write(rows)
        cache.finish()
        lipschitz = lipschitz_from_moments(plan, moments, scaling, l2, largest, reducer)
        optimizer, learning_rate, momentum = resolve_update(plan, lipschitz)
        with _explaining_divergence(plan):
            result = fit_gradient_descent_blocks(
                cache,
                d,
                t,
                weighted=weighted,
                learning_rate=learning_rate,
                **batch_plan(plan, reducer, cache.n_rows, moments.n_samples),
                seed=plan.seed(),
                optimizer=optimizer,
                momentum=momentum,
                **_options(
                    plan, scaling, l1, l2, callback, step=learning_rate, reducer=reducer
                ),
            )
    return result, optimizer
