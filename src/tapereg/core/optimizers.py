"""Update rules: the seeds' plain gradient descent, momentum, and Keras' Adam.

Learning rate and momentum may be ``tf.Variable``s: then one traced training loop
serves every fit that differs only in them (see ``training.py``'s loop cache).
"""

from __future__ import annotations

# TensorFlow is imported inside the methods: the CLI reads OPTIMIZERS at start-up.
OPTIMIZERS = ("gd", "momentum", "adam", "accelerated")


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


class Accelerated:
    """Nesterov's accelerated gradient (FISTA) with gradient restarts.

    ``x' = prox(y − lr·g)``, ``y ← x' + β·(x' − x)`` with β = (t − 1)/t',
    t' = (1 + √(1 + 4t²))/2, and t back to 1 when ``gᵀ(x' − x) > 0`` (the
    step went uphill: O'Donoghue and Candès' restart). The model's variables
    hold y, where the tape evaluates the gradient; :meth:`iterates` gives x.
    It needs no strong convexity and no momentum constant, so it suits losses
    whose curvature is not known in advance (the robust and quantile losses).
    Written here because it applies the proximal step (``prox``, the L1 part and
    w ≥ 0) inside the update, before the extrapolation, which an optimizer that
    only sees gradients cannot.
    """

    takes_prox = True

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.previous = []
        self.t = None

    def build(self, variables) -> None:
        import tensorflow as tf

        self.previous = [
            tf.Variable(v, trainable=False, name="previous") for v in variables
        ]
        self.t = tf.Variable(tf.ones([], variables[0].dtype), trainable=False)
        self._variables = list(variables)

    def reset(self) -> None:
        """Start again from the variables' values (set before a fit or stage)."""
        for previous, variable in zip(self.previous, self._variables, strict=True):
            previous.assign(variable)
        self.t.assign(1.0)

    @property
    def slots(self) -> list:
        """The state a checkpoint must keep: the last iterates and t."""
        return [*self.previous, self.t]

    def iterates(self) -> list:
        """The iterates x (the model's variables hold the extrapolated y)."""
        return list(self.previous)

    def apply(self, gradients, variables, prox=None) -> None:
        import tensorflow as tf

        stepped = [
            v - self.learning_rate * g
            for g, v in zip(gradients, variables, strict=True)
        ]
        if prox is not None:
            stepped[0] = prox(stepped[0])  # the weights; the intercept is free
        uphill = tf.add_n(
            [
                tf.reduce_sum(g * (s - x))
                for g, s, x in zip(gradients, stepped, self.previous, strict=True)
            ]
        )
        t = tf.where(uphill > 0, tf.ones_like(self.t), self.t)
        t_next = (1 + tf.sqrt(1 + 4 * t * t)) / 2
        beta = (t - 1) / t_next
        for variable, new, previous in zip(
            variables, stepped, self.previous, strict=True
        ):
            variable.assign(new + beta * (new - previous))
            previous.assign(new)
        self.t.assign(t_next)


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
    if name == "accelerated":
        return Accelerated(learning_rate)
    if name == "adam":
        import keras

        # Keras takes a float and keeps it in a variable of its own (set per fit).
        rate = learning_rate if isinstance(learning_rate, float | int) else 0.001
        return KerasUpdate(keras.optimizers.Adam(learning_rate=rate))
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
