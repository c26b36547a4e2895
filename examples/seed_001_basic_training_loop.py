"""Seed 001, TensorFlow's "basic training loops" guide, on tapereg.

The guide drew 1000 normal inputs and normal noise around y = 3x + 2, started its
model at W = 5, b = 0, and ran 20 full-batch epochs of plain gradient descent
(learning rate 0.1), printing W, b and the loss each epoch.

    python examples/seed_001_basic_training_loop.py
"""

import numpy as np
import tensorflow as tf

from tapereg import LinearModel, make_train_step

# The guide's data: y = x·TRUE_W + TRUE_B + noise, 1000 normal x and normal noise.
TRUE_W = 3.0
TRUE_B = 2.0
NUM_EXAMPLES = 1000

rng = np.random.RandomState(0)
x = rng.normal(size=NUM_EXAMPLES)
noise = rng.normal(size=NUM_EXAMPLES)
y = x * TRUE_W + TRUE_B + noise
X = tf.constant(x[:, None], tf.float32)  # (1000, 1): one feature
Y = tf.constant(y[:, None], tf.float32)  # (1000, 1): one target

# The guide's model started from W = 5.0, b = 0.0 (LinearModel starts at zero).
model = LinearModel(n_features=1)
model.w.assign([[5.0]])
model.b.assign([0.0])

# The guide's train(): loss in the tape, tape.gradient, assign_sub(0.1 * grad).
step = make_train_step(model, "gd", learning_rate=0.1)

# 20 epochs; the guide printed W and b after each update, beside that step's loss.
for epoch in range(20):
    loss = step(X, Y)
    w, b = float(model.w[0, 0]), float(model.b[0])
    print(f"Epoch {epoch:2d}: W={w:1.2f} b={b:1.2f}, loss={float(loss):2.5f}")

print(f"learned W = {float(model.w[0, 0]):.4f}  (true {TRUE_W})")
print(f"learned b = {float(model.b[0]):.4f}  (true {TRUE_B})")
