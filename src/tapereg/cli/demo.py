"""``tapereg demo``: a seed tutorial, reproduced with its own loop."""

from __future__ import annotations

from .output import emit, quiet_tensorflow
from .paths import Output, check_paths
from .status import ExitStatus


def run_demo_command(args) -> int:
    check_paths([], [Output("--plot", args.plot)])
    quiet_tensorflow()
    from ..demos import run_demo
    from ..reports.report import build_report

    run = run_demo(
        args.tutorial,
        seed=args.seed,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
    )
    result, exact, tutorial = run.result, run.exact, run.tutorial
    X, Y = run.x[:, None], run.y[:, None]
    report = build_report(
        X,
        Y,
        coef=result.coef.astype(float),
        intercept=result.intercept.astype(float),
        exact_coef=exact.coef,
        exact_intercept=exact.intercept,
        loss_history=result.loss_history,
        n_iter=result.n_iter,
        optimizer="gd",
        learning_rate=result.learning_rate,
        seconds=run.seconds,
        feature_names=["x"],
        target_names=["y"],
    )
    report.update(tutorial=tutorial.name, seed=run.seed)
    weight, bias = float(result.coef[0, 0]), float(result.intercept[0])
    if tutorial.true_weight is not None:
        report["true"] = {
            "coef": [tutorial.true_weight],
            "intercept": tutorial.true_bias,
        }
    if args.plot:
        from ..reports.plotting import plot_fit

        plot_fit(
            args.plot,
            X,
            Y,
            coef=result.coef,
            intercept=result.intercept,
            loss_history=result.loss_history,
            exact_coef=exact.coef,
            exact_intercept=exact.intercept,
            exact_loss=report["exact"]["mse"],
            feature_names=["x"],
            target_names=["y"],
        )
    if args.json:
        emit(report, "", True)
        return ExitStatus.SUCCESS

    print(tutorial.title)
    for epoch, loss in enumerate(result.loss_history):
        if tutorial.name == "line":
            print(f"Epoch count {epoch}: Loss value: {float(loss)}")
        else:
            print(f"Epoch {epoch:2d}: loss={float(loss):2.5f}")
    exact_w, exact_b = float(exact.coef[0, 0]), float(exact.intercept[0])
    print(f"weight: {weight:.7g}  (exact least squares {exact_w:.7g})")
    print(f"bias:   {bias:.7g}  (exact least squares {exact_b:.7g})")
    if tutorial.true_weight is not None:
        print(f"true:   W = {tutorial.true_weight}, b = {tutorial.true_bias}")
    if args.plot:
        print(f"plot written to {args.plot}")
    return ExitStatus.SUCCESS
