"""The callbacks Keras does not ship: atomic checkpoints, exact backups, signals, metrics log."""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

import keras
import numpy as np

from .. import atomic
from ..errors import BigModelError, RunError
from . import checkpoints, metrics_log


class EpochCheckpoints(keras.callbacks.Callback):
    """Save `epoch-NNNN.keras` each epoch, keep the newest `keep_last`, `last.keras` the latest."""

    def __init__(self, directory: Path, keep_last: int, saved=None):
        super().__init__()
        self.saved = saved  # the model to write, when it is not the one fit trains
        self.directory = Path(directory)
        self.keep_last = keep_last
        self.latest: tuple[int, Path] | None = None  # (epoch, file) of the last save

    def on_epoch_end(self, epoch, logs=None):
        path = checkpoints.save_epoch_checkpoint(self.saved or self.model, self.directory,
                                                 epoch + 1, self.keep_last)
        self.latest = epoch, path


class BestCheckpoint(keras.callbacks.Callback):
    """Keep `best.keras` and `best.json` (epoch, step, value) for the best monitored value.

    Runs after `EpochCheckpoints`: a best epoch's checkpoint is then already on disk, and
    `best.keras` becomes a second name for that file instead of a second copy of the model.
    """

    def __init__(self, path: Path, monitor: str, mode: str, steps_per_epoch: int,
                 epoch_checkpoints: EpochCheckpoints):
        super().__init__()
        self.epoch_checkpoints = epoch_checkpoints
        self.path = Path(path)
        self.monitor = monitor
        self.sign = _direction(monitor, mode)
        self.steps_per_epoch = steps_per_epoch
        self.best = math.inf  # sign * value: smaller is better

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or not self.sign * value < self.best:
            return
        self.best = self.sign * value
        latest = self.epoch_checkpoints.latest
        if latest is None or latest[0] != epoch:
            raise RuntimeError("BestCheckpoint must run after EpochCheckpoints")
        checkpoints.link(latest[1], self.path)
        record = {"epoch": epoch + 1, "step": (epoch + 1) * self.steps_per_epoch,
                  "monitor": self.monitor, "value": float(value)}
        atomic.write_text(self.path.with_suffix(".json"), json.dumps(record, indent=2) + "\n")

    def get_state(self) -> dict:
        return {"best": self.best}

    def set_state(self, state: dict) -> None:
        self.best = state["best"]


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping whose patience count survives a resume.

    Keras resets its state in `on_train_begin`; a resumed run sets it back afterwards.
    """

    def __init__(self, **kwargs):
        super().__init__(restore_best_weights=False, **kwargs)
        self.restored: dict | None = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.restored:
            self.wait, self.best, self.best_epoch = (
                self.restored["wait"], self.restored["best"], self.restored["best_epoch"])

    def get_state(self) -> dict:
        best = None if self.best is None else float(self.best)
        return {"wait": self.wait, "best": best, "best_epoch": self.best_epoch}

    def set_state(self, state: dict) -> None:
        self.restored = state


class Interrupted(BigModelError):
    """Training stopped on a signal after writing a backup; 128 + the signal number."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number
        self.exit_code = 128 + signal_number


class RunGuard(keras.callbacks.Callback):
    """Back up for exact resume, stop cleanly on SIGTERM/SIGINT, stop at the first NaN loss.

    Backups are written every `every_steps` steps (if set) and at each epoch end; this callback
    must come after the other stateful callbacks, so their end-of-epoch state is captured.
    A first signal finishes the current step, writes a backup and raises `Interrupted`; a
    second Ctrl-C aborts at once.
    """

    def __init__(self, backup_dir: Path, steps_per_epoch: int, every_steps: int | None,
                 start: checkpoints.TrainingState, stateful: dict, resume_hint: str):
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.steps_per_epoch = steps_per_epoch
        self.every_steps = every_steps
        self.global_step = start.global_step
        self.stateful = stateful
        self.resume_hint = resume_hint
        self.received: int | None = None
        self.previous_handlers: dict = {}

    def on_train_begin(self, logs=None):
        for number in (signal.SIGTERM, signal.SIGINT):
            self.previous_handlers[number] = signal.signal(number, self._on_signal)

    def on_train_end(self, logs=None):
        for number, handler in self.previous_handlers.items():
            signal.signal(number, handler)

    def _on_signal(self, number, frame):
        if self.received is not None and number == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now, without a backup
        self.received = number
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_train_batch_end(self, batch, logs=None):
        steps_taken = self._steps_taken(batch)
        self.global_step += steps_taken
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise RunError(f"loss became {loss} at step {self.global_step}; lower "
                           f"optimizer.learning_rate; last good backup: {self._latest()}")
        if self.received is not None:
            self._save()
            name = signal.Signals(self.received).name
            raise Interrupted(f"stopped by {name} at step {self.global_step} and backed up; "
                              f"{self.resume_hint}", self.received)
        in_epoch = self.global_step % self.steps_per_epoch
        if self.every_steps and in_epoch and self.global_step % self.every_steps == 0:
            self._save()

    def on_epoch_begin(self, epoch, logs=None):
        self.last_batch = -1

    def on_epoch_end(self, epoch, logs=None):
        self._save()

    def _steps_taken(self, batch: int) -> int:
        # With steps_per_execution > 1 Keras reports only the last batch of each execution.
        taken = batch - self.last_batch
        self.last_batch = batch
        return taken

    def _save(self):
        epoch, in_epoch = divmod(self.global_step, self.steps_per_epoch)
        state = checkpoints.TrainingState(
            global_step=self.global_step, epoch=epoch, step_in_epoch=in_epoch,
            callbacks={name: callback.get_state() for name, callback in self.stateful.items()})
        checkpoints.save_backup(self.model, self.backup_dir, state)

    def _latest(self) -> str:
        found = sorted(self.backup_dir.glob("state-*.json"))
        return str(found[-1]) if found else "none yet"


class MetricsLog(keras.callbacks.Callback):
    """One row per epoch in metrics.jsonl and metrics.csv (metrics_log.py): epoch (from 1),
    step, seconds, learning rate and every metric; Keras' CSVLogger would number epochs from
    0, write CRLF and leave out the learning rate and the seconds."""

    def __init__(self, jsonl: Path, csv_path: Path, steps_per_epoch: int):
        super().__init__()
        self.files = metrics_log.MetricsFiles(jsonl, csv_path)
        self.steps_per_epoch = steps_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, "step": (epoch + 1) * self.steps_per_epoch,
                  "seconds": round(time.perf_counter() - self.started, 3),
                  "learning_rate": _learning_rate(self.model)}
        record.update({key: _number(value) for key, value in sorted((logs or {}).items())
                       if key != "learning_rate"})
        self.files.add(record)


def _learning_rate(model) -> float | str | None:
    """The optimizer's rate at the epoch's end (what Keras' TensorBoard callback logs): a
    schedule's value at the steps taken so far."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        return None
    return _number(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _direction(monitor: str, mode: str) -> int:
    """+1 when smaller is better, -1 when larger is; 'auto' guesses from the metric's name."""
    if mode == "min":
        return 1
    if mode == "max":
        return -1
    larger_is_better = ("acc", "auc", "precision", "recall", "f1")
    return -1 if any(word in monitor for word in larger_is_better) else 1


def _number(value):
    value = float(np.asarray(value))
    return value if math.isfinite(value) else str(value)
