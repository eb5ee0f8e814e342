"""The few callbacks Keras does not ship: atomic checkpoints, a JSON-lines log, a Rich display."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from . import atomic


class AtomicCheckpoint(keras.callbacks.Callback):
    """Save the model each epoch through a temporary file and a rename.

    Keras' ModelCheckpoint writes in place, so a kill during a save leaves a broken file. With
    `monitor` set, only epochs that improve it are saved (the best checkpoint).
    """

    def __init__(self, path: Path, monitor: str | None = None, mode: str = "auto"):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.sign = _direction(monitor, mode)
        self.best = math.inf

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or not self.sign * value < self.best:
                return
            self.best = self.sign * value
        with atomic.atomic_path(self.path) as temporary:
            self.model.save(temporary)


def _direction(monitor: str | None, mode: str) -> int:
    """+1 when smaller is better, -1 when larger is; 'auto' guesses from the metric's name."""
    if mode == "min":
        return 1
    if mode == "max":
        return -1
    larger_is_better = ("acc", "auc", "precision", "recall", "f1")
    return -1 if monitor and any(word in monitor for word in larger_is_better) else 1


class MetricsLog(keras.callbacks.Callback):
    """Append one JSON line per epoch: epoch, step, seconds, learning rate and every metric."""

    def __init__(self, path: Path, steps_per_epoch: int):
        super().__init__()
        self.path = Path(path)
        self.steps_per_epoch = steps_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, "step": (epoch + 1) * self.steps_per_epoch,
                  "seconds": round(time.perf_counter() - self.started, 3)}
        record.update({key: _number(value) for key, value in (logs or {}).items()})
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
            file.flush()
            os.fsync(file.fileno())


def _number(value):
    value = float(np.asarray(value))
    return value if math.isfinite(value) else str(value)
