"""The training display: a Rich progress bar per epoch and one summary line per epoch."""

from __future__ import annotations

import time

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress(keras.callbacks.Callback):
    """Epoch, step, loss, metrics, examples/s and time left while training.

    Keras may call batch hooks from a worker thread (`async_safe`), so the training loop never
    waits for the display. The bar is redrawn at most ten times a second.
    """

    async_safe = True

    def __init__(self, console: Console, epochs: int, steps_per_epoch: int, batch_size: int):
        super().__init__()
        self.console = console
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.progress = None

    def on_train_begin(self, logs=None):
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), TimeRemainingColumn(),
            console=self.console, transient=True, auto_refresh=False)
        self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.train_seconds = None
        self.last_drawn = 0.0
        self.task = self.progress.add_task(
            "train", total=self.steps_per_epoch, epoch=f"{epoch + 1}/{self.epochs}", metrics="")

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if now - self.last_drawn < 0.1:
            return
        self.last_drawn = now
        rate = (batch + 1) * self.batch_size / max(now - self.epoch_started, 1e-9)
        self.progress.update(self.task, completed=batch + 1,
                             metrics=f"{format_metrics(logs)}  {rate:,.0f} ex/s")
        self.progress.refresh()

    def on_test_begin(self, logs=None):
        # Validation runs inside the epoch; examples/s counts training steps only.
        self.train_seconds = time.perf_counter() - self.epoch_started

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.epoch_started
        train_seconds = self.train_seconds or seconds
        rate = self.steps_per_epoch * self.batch_size / max(train_seconds, 1e-9)
        self.progress.remove_task(self.task)
        self.progress.refresh()
        self.console.print(f"epoch {epoch + 1}/{self.epochs}  {format_metrics(logs)}  "
                           f"{rate:,.0f} ex/s  {seconds:.1f}s", highlight=False)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Stop drawing; also called when training ends with an exception."""
        if self.progress is not None:
            self.progress.stop()


def format_metrics(logs) -> str:
    return "  ".join(f"{key} {float(value):.4f}" for key, value in (logs or {}).items()
                     if key != "learning_rate")
