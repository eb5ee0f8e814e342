"""Run one side of a benchmark in this process and write when its training loop ran, as JSON.

    python benchmarks/probe.py OUT.json plain benchmarks/plain/cnn_cifar10.py --epochs 3
    python benchmarks/probe.py OUT.json bigmodel train benchmarks/configs/cnn.yaml --set ...

Both sides are timed by the same code, outside them: `keras.callbacks.CallbackList`, which
every `fit` drives, is wrapped to note the wall-clock time when each epoch's training loop
starts (after every callback's `on_epoch_begin`) and ends (before any `on_epoch_end` work such
as checkpoints or logs), with the CPU time the process used by then (all its threads), and
when the first step ends. Nothing else in either side changes.
The plain script runs as `__main__`; bigmodel runs through its real console entry point.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import time


def install(record: dict) -> None:
    """Wrap the three CallbackList hooks that bracket training; each adds one time() call."""
    import keras

    callback_list = keras.callbacks.CallbackList
    original_begin = callback_list.on_epoch_begin
    original_end = callback_list.on_epoch_end
    original_batch_end = callback_list.on_train_batch_end

    def on_epoch_begin(self, epoch, logs=None):
        original_begin(self, epoch, logs)
        record["epochs"].append([time.time(), None, time.process_time(), None])

    def on_epoch_end(self, epoch, logs=None):
        record["epochs"][-1][1::2] = time.time(), time.process_time()
        original_end(self, epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        # Only the first step is of interest: put the original back so later steps pay nothing.
        record["first_step_end"] = time.time()
        callback_list.on_train_batch_end = original_batch_end
        original_batch_end(self, batch, logs)

    callback_list.on_epoch_begin = on_epoch_begin
    callback_list.on_epoch_end = on_epoch_end
    callback_list.on_train_batch_end = on_train_batch_end


def main() -> None:
    output, side, *arguments = sys.argv[1:]
    record = {"epochs": [], "first_step_end": None, "exit_code": 0}
    install(record)

    def write_record():
        temporary = f"{output}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(record, file)
        os.replace(temporary, output)

    # An exit handler, because bigmodel's console command ends with os._exit after success
    # (it runs the exit handlers first): each side exits the way it does for a user.
    atexit.register(write_record)
    try:
        if side == "plain":
            sys.argv = arguments
            runpy.run_path(arguments[0], run_name="__main__")
        else:
            from bigmodel_cli.cli import entry

            sys.argv = ["bigmodel", *arguments]
            entry()
    except SystemExit as stop:
        record["exit_code"] = stop.code if isinstance(stop.code, int) else 0 if not stop.code else 1
    sys.exit(record["exit_code"])


if __name__ == "__main__":
    main()
