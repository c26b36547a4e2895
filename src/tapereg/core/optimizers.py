"""Update rules: the seeds' plain gradient descent, momentum, and Keras' Adam.

Learning rate and momentum may be ``tf.Variable``s: then one traced training loop
serves every fit that differs only in them (see ``training.py``'s loop cache).
"""

from __future__ import annotations

# TensorFlow is imported inside the methods: the CLI reads OPTIMIZERS at start-up.
OPTIMIZERS = ("gd", "momentum", "adam")


class GradientDescent:
    """The seeds' update, ``v.assign_sub(learning_rate * grad)``; it keeps no state.

    Written here rather than taken from Keras so that ``optimizer="gd"`` is exactly the
    two lines of the tutorial, with nothing (no iteration counter, no casts) added.
    """

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def build(self, variables) -> None:
        """Nothing to create: plain gradient descent has no slots."""

    def reset(self) -> None:
        """Nothing to forget."""

    @property
    def slots(self) -> list:
        """The state a checkpoint must keep: none."""
        return []

    def apply(self, gradients, variables) -> None:
        for gradient, variable in zip(gradients, variables, strict=True):
            variable.assign_sub(self.learning_rate * gradient)


class Momentum:
    """Heavy-ball momentum, or Nesterov's, with Keras' SGD formulas.

    ``m ← μ·m − lr·g``, then ``w ← w + m`` (heavy ball) or ``w ← w + μ·m − lr·g``
    (Nesterov). Written here because Keras bakes μ into the traced step, while the
    automatic optimizer sets μ per fit from the problem's spectrum.
    """

    def __init__(self, learning_rate, momentum, nesterov: bool = False):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocities = []

    def build(self, variables) -> None:
        import tensorflow as tf

        self.velocities = [
            tf.Variable(tf.zeros_like(v), trainable=False, name="velocity")
            for v in variables
        ]

    def reset(self) -> None:
        import tensorflow as tf

        for velocity in self.velocities:
            velocity.assign(tf.zeros_like(velocity))

    @property
    def slots(self) -> list:
        """The state a checkpoint must keep: the velocities."""
        return list(self.velocities)

    def apply(self, gradients, variables) -> None:
        for gradient, variable, velocity in zip(
            gradients, variables, self.velocities, strict=True
        ):
            velocity.assign(self.momentum * velocity - self.learning_rate * gradient)
            if self.nesterov:
                variable.assign_add(
                    self.momentum * velocity - self.learning_rate * gradient
                )
            else:
                variable.assign_add(velocity)


class KerasUpdate:
    """Adapts a Keras optimizer to the train step's ``build``/``apply`` interface."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    @property
    def learning_rate(self):
        return self.optimizer.learning_rate

    def build(self, variables) -> None:
        # Slots are created eagerly: the compiled loop only reads and writes them.
        self.optimizer.build(variables)

    def reset(self) -> None:
        """Zero the slots and the iteration count (the learning rate is set after)."""
        import tensorflow as tf

        for variable in self.optimizer.variables:
            variable.assign(tf.zeros_like(variable))

    @property
    def slots(self) -> list:
        """The state a checkpoint must keep: Keras' slots and iteration count."""
        return list(self.optimizer.variables)

    def apply(self, gradients, variables) -> None:
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))


def make_optimizer(
    name: str, learning_rate, *, momentum: float = 0.9, nesterov: bool = False
):
    """Build the update rule called ``name`` (one of ``OPTIMIZERS``)."""
    if name == "gd":
        return GradientDescent(learning_rate)
    if name == "momentum":
        return Momentum(learning_rate, momentum, nesterov)
    if name == "adam":
        import keras

        # Keras takes a float and keeps it in a variable of its own (set per fit).
        rate = learning_rate if isinstance(learning_rate, float | int) else 0.001
        return KerasUpdate(keras.optimizers.Adam(learning_rate=rate))
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
