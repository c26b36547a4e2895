"""Crash-safe training: checkpoints of a fit's whole state, and resuming from them.

A checkpoint holds the weights, the optimizer's slots, the loop's early-stopping state,
the losses so far, why the run stopped (or that it has not) and a fingerprint of the
problem, through ``tf.train.CheckpointManager`` (which writes the files and then the
index, so a kill leaves the previous checkpoint valid). Resuming restores all of it and
runs the remaining epochs; since chunking does not change a bit of the result, the
resumed run ends where an uninterrupted one does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..core.epochs import STILL_RUNNING
from ..errors import TaperegError


@dataclass(frozen=True)
class CheckpointPlan:
    """Where and how often to checkpoint, and whether to resume from what is there."""

    directory: str
    every_epochs: int = 100
    every_seconds: float = 60.0
    resume: bool = False

    def open(self, state: dict, problem: str) -> TrainingCheckpoint:
        """The checkpoint of a fit whose variables are ``state`` (the training
        loop's), for the training problem whose fingerprint is ``problem``."""
        return TrainingCheckpoint(self, state, problem)


class TrainingCheckpoint:
    """The checkpointed state of one fit (see the module docstring)."""

    def __init__(self, plan: CheckpointPlan, state: dict, problem: str):
        self.plan = plan
        self.problem = problem
        self.history = tf.Variable(
            np.zeros(0),
            shape=tf.TensorShape([None]),
            dtype=tf.float64,
            trainable=False,
        )
        self.stop_reason = tf.Variable(STILL_RUNNING, dtype=tf.int32, trainable=False)
        self.fingerprint = tf.Variable(problem, dtype=tf.string, trainable=False)
        checkpoint = tf.train.Checkpoint(
            **state,
            history=self.history,
            stop_reason=self.stop_reason,
            fingerprint=self.fingerprint,
        )
        self.manager = tf.train.CheckpointManager(
            checkpoint, plan.directory, max_to_keep=2
        )
        self._state = checkpoint
        self._saved_epoch, self._saved_at = 0, time.monotonic()

    def restore(self) -> tuple[np.ndarray, int] | None:
        """Load the latest checkpoint: (losses so far, stop reason), or None if none."""
        path = self.manager.latest_checkpoint
        if path is None:
            return None
        saved = tf.train.load_variable(path, "fingerprint/.ATTRIBUTES/VARIABLE_VALUE")
        if saved.decode() != self.problem:
            raise TaperegError(
                f"{self.plan.directory}: its checkpoint is for another training "
                "problem (other data or settings); remove it or drop --resume"
            )
        self._state.restore(path).assert_existing_objects_matched()
        self._saved_epoch, self._saved_at = len(self.history.numpy()), time.monotonic()
        return self.history.numpy(), int(self.stop_reason.numpy())

    def due(self, done: int) -> bool:
        return (
            done - self._saved_epoch >= self.plan.every_epochs
            or time.monotonic() - self._saved_at >= self.plan.every_seconds
        )

    def save(self, losses: np.ndarray, stop_reason: int = STILL_RUNNING) -> None:
        self.history.assign(np.asarray(losses, np.float64))
        self.stop_reason.assign(stop_reason)
        self.manager.save(checkpoint_number=len(losses))
        self._saved_epoch, self._saved_at = len(losses), time.monotonic()
