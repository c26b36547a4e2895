"""What a fit reports per epoch: a progress bar or lines, TensorBoard, the user's hook.

:func:`epoch_callbacks` builds the one callback training calls after each chunk
of epochs; training itself prints nothing.
"""

from __future__ import annotations

import sys

import numpy as np


def epoch_callbacks(*, verbose, logdir, max_iter: int, epoch_callback, closing):
    """The chunk callback for ``verbose``, ``logdir`` and ``epoch_callback``, or None.

    verbose=1 is a progress bar on a terminal (one line per epoch otherwise),
    verbose=2 one line per epoch, as in Keras. ``closing`` (an ExitStack) closes
    the bar and the TensorBoard writer when training ends, also on an error.
    """
    if epoch_callback is None and not verbose and logdir is None:
        return None
    bar = writer = None
    if verbose == 1:
        from .progress import EpochProgress

        bar = closing.enter_context(EpochProgress(max_iter, stream=sys.stdout))
    if logdir is not None:
        import tensorflow as tf

        writer = tf.summary.create_file_writer(str(logdir))
        closing.callback(writer.close)

    def callback(chunk):
        for k, loss in enumerate(np.maximum(chunk.losses, 0.0), start=chunk.first):
            if bar is not None:
                bar(k, float(loss))
            elif verbose:
                print(f"epoch {k}: loss {loss:.6g}", flush=True)
            if epoch_callback is not None:
                epoch_callback(k, float(loss))
        if writer is not None:
            write_scalars(writer, chunk)

    return callback


def write_scalars(writer, chunk) -> None:
    """TensorBoard scalars of one chunk of epochs: loss, gradient norm, step size."""
    import tensorflow as tf

    with writer.as_default():
        for offset, (loss, norm) in enumerate(
            zip(chunk.losses, chunk.gradient_norms, strict=True)
        ):
            step = chunk.first + offset
            tf.summary.scalar("loss", float(loss), step=step)
            tf.summary.scalar("gradient_norm", float(norm), step=step)
            tf.summary.scalar("learning_rate", chunk.learning_rate, step=step)
    writer.flush()
