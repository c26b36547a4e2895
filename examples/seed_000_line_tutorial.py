"""Seed 000, "Linear Regression with TensorFlow 2.0 Gradient Tape", on tapereg.

The seed drew 100 points around the line y = x, started a weight and a bias at 0,
and ran 100 full-batch epochs of plain gradient descent (learning rate 0.01): the
mean squared error inside ``tf.GradientTape``, ``tape.gradient``, then
``assign_sub``. tapereg's ``make_train_step(model, "gd")`` is that step.

    python examples/seed_000_line_tutorial.py [--plot line.png]
"""

import argparse

import numpy as np
import tensorflow as tf

import tapereg
from tapereg import LinearModel, make_train_step

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--plot", metavar="PATH", help="save the fitted line as a PNG")
args = parser.parse_args()

# The seed's data: 100 evenly spaced x in [0, 10], y = x plus unit normal noise.
rng = np.random.RandomState(0)
x = np.linspace(0, 10, 100)
y = x + rng.normal(0, 1, 100)
X = tf.constant(x[:, None], tf.float32)  # (100, 1): one feature
Y = tf.constant(y[:, None], tf.float32)  # (100, 1): one target

# The seed's tf.Variable(0.) weight and bias, and its tape-and-assign_sub step.
model = LinearModel(n_features=1)
step = make_train_step(model, "gd", learning_rate=0.01)

# 100 epochs, the whole data set each; the loss printed is the one in the tape,
# i.e. of the weights the epoch started from, as in the seed.
for epoch in range(100):
    loss = step(X, Y)
    print(f"Epoch count {epoch}: Loss value: {float(loss)}")

# The seed printed the learned weight and bias; beside them, the exact optimum.
exact = tapereg.solve_least_squares(x[:, None], y[:, None])
weight, bias = float(model.w[0, 0]), float(model.b[0])
print(f"weight: {weight:.6f}  (least squares: {exact.coef[0, 0]:.6f})")
print(f"bias:   {bias:.6f}  (least squares: {exact.intercept[0]:.6f})")

if args.plot:
    # The seed's figure: the data as a scatter, the fitted line in red.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.scatter(x, y)
    plt.plot(x, weight * x + bias, "r")
    plt.savefig(args.plot)
    print(f"saved {args.plot}")
