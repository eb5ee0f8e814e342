"""The training display: a Rich progress bar per epoch and one summary line per epoch.

It also times the training steps, for the throughput and MFU report at the end of a run.
"""

from __future__ import annotations

import time

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from . import performance

REDRAW_SECONDS = 0.1


class TrainingProgress(keras.callbacks.Callback):
    """Epoch, step, loss, metrics, examples/s (tokens/s too for sequences) and time left.

    Keras may call batch hooks from a worker thread (`async_safe`), so the training loop never
    waits for the display. The bar is redrawn at most ten times a second. With
    steps_per_execution > 1, Keras calls the batch hooks once per execution, with the index of
    its last step.

    Throughput counts training steps only: each epoch from its start to its last step (not
    validation, checkpoints or logs), leaving out the first execution of the run, which traces
    and compiles the step function. It counts the examples those steps took: the training
    stream's batch at global step g is its g-th batch, and each pass over the `train_examples`
    ends with a short batch unless `batch_size` divides them (performance.examples_in_steps).
    """

    async_safe = True

    def __init__(self, console: Console, epochs: int, steps_per_epoch: int, batch_size: int,
                 train_examples: int, tokens_per_example: int = 0):
        super().__init__()
        self.console = console
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.train_examples = train_examples
        self.tokens_per_example = tokens_per_example
        self.progress = None
        self.timed_steps = 0
        self.timed_examples = 0
        self.timed_seconds = 0.0
        self.first_execution_done = False

    def on_train_begin(self, logs=None):
        if self.model is not None and not self.tokens_per_example:
            self.tokens_per_example = performance.tokens_per_example(self.model)
        if not (self.console.is_terminal or self.console.is_jupyter):
            return  # a log file gets the epoch lines only, not a bar redrawn in place
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), TimeRemainingColumn(),
            console=self.console, transient=True, auto_refresh=False)
        self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        # A resumed run may first finish a partial epoch: `fit` then runs fewer steps.
        self.steps_this_epoch = (self.params or {}).get("steps") or self.steps_per_epoch
        self.skipped = max(self.steps_per_epoch - self.steps_this_epoch, 0)
        self.first_step = epoch * self.steps_per_epoch + self.skipped  # global step, from 0
        self.epoch_started = time.perf_counter()
        self.timing_from, self.steps_before_timing = self.epoch_started, 0
        self.last_step_end, self.steps_done = None, 0
        self.last_drawn = 0.0
        if self.progress is not None:
            self.task = self.progress.add_task(
                "train", total=self.steps_per_epoch, completed=self.skipped,
                epoch=f"{epoch + 1}/{self.epochs}", metrics="")

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.steps_done = min(batch + 1, self.steps_this_epoch)
        self.last_step_end = now
        if not self.first_execution_done:
            self.first_execution_done = True
            self.timing_from, self.steps_before_timing = now, self.steps_done
        if self.progress is None or now - self.last_drawn < REDRAW_SECONDS:
            return
        self.last_drawn = now
        rate = self.examples(0, self.steps_done) / max(now - self.epoch_started, 1e-9)
        self.progress.update(self.task, completed=self.skipped + self.steps_done,
                             metrics=f"{format_metrics(logs)}  {self.format_rate(rate)}")
        self.progress.refresh()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.epoch_started
        train_seconds = (self.last_step_end or time.perf_counter()) - self.epoch_started
        rate = self.examples(0, self.steps_done) / max(train_seconds, 1e-9)
        if self.last_step_end is not None and self.steps_done > self.steps_before_timing:
            self.timed_steps += self.steps_done - self.steps_before_timing
            self.timed_examples += self.examples(self.steps_before_timing, self.steps_done)
            self.timed_seconds += self.last_step_end - self.timing_from
        if self.progress is not None:
            self.progress.remove_task(self.task)
            self.progress.refresh()
        self.console.print(f"epoch {epoch + 1}/{self.epochs}  {format_metrics(logs)}  "
                           f"{self.format_rate(rate)}  {seconds:.1f}s", highlight=False)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Stop drawing; also called when training ends with an exception."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None  # stopping twice would print a second empty line

    def examples_per_second(self) -> float | None:
        """Training examples per second over the timed steps; None if none were timed."""
        if not self.timed_steps or self.timed_seconds <= 0:
            return None
        return self.timed_examples / self.timed_seconds

    def examples(self, first: int, end: int) -> int:
        """The examples in steps [first, end) of the current epoch."""
        return performance.examples_in_steps(self.first_step + first, self.first_step + end,
                                             self.train_examples, self.batch_size)

    def format_rate(self, examples_per_second: float) -> str:
        text = f"{examples_per_second:,.0f} ex/s"
        if self.tokens_per_example:
            text += f" {examples_per_second * self.tokens_per_example:,.0f} tok/s"
        return text


def format_metrics(logs) -> str:
    return "  ".join(f"{key} {float(value):.4f}" for key, value in (logs or {}).items()
                     if key != "learning_rate")
