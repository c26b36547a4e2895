"""Update rules: the seeds' plain gradient descent, and Keras' momentum and Adam."""

from __future__ import annotations

OPTIMIZERS = ("gd", "momentum", "adam")


class GradientDescent:
    """The seeds' update, ``v.assign_sub(learning_rate * grad)``; it keeps no state.

    Written here rather than taken from Keras so that ``optimizer="gd"`` is exactly the
    two lines of the tutorial, with nothing (no iteration counter, no casts) added.
    """

    def __init__(self, learning_rate: float):
        self.learning_rate = learning_rate

    def build(self, variables) -> None:
        """Nothing to create: plain gradient descent has no slots."""

    def apply(self, gradients, variables) -> None:
        for gradient, variable in zip(gradients, variables, strict=True):
            variable.assign_sub(self.learning_rate * gradient)


class KerasUpdate:
    """Adapts a Keras optimizer to the train step's ``build``/``apply`` interface."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.learning_rate.numpy())

    def build(self, variables) -> None:
        # Slots are created eagerly: the compiled loop only reads and writes them.
        self.optimizer.build(variables)

    def apply(self, gradients, variables) -> None:
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))


def make_optimizer(
    name: str, learning_rate: float, *, momentum: float = 0.9, nesterov: bool = False
):
    """Build the update rule called ``name`` (one of ``OPTIMIZERS``)."""
    if name == "gd":
        return GradientDescent(learning_rate)
    import keras

    if name == "momentum":
        return KerasUpdate(
            keras.optimizers.SGD(
                learning_rate=learning_rate, momentum=momentum, nesterov=nesterov
            )
        )
    if name == "adam":
        return KerasUpdate(keras.optimizers.Adam(learning_rate=learning_rate))
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
