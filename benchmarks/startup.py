"""Where the start-up time of `bigmodel train` goes, and how fast `bigmodel --help` answers.

    python benchmarks/startup.py                  # 3 runs of a small mlp training, medians
    python benchmarks/startup.py --importtime     # and the costliest imports (-X importtime)

A run is timed from the moment its process is started to the end of its first training step,
split at the points where bigmodel moves on to the next stage (the functions below are wrapped
to note the time; nothing else changes). The first step includes tracing the step function.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from compare import FAMILIES, help_times, image_file

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STARTUP_EXAMPLES = 3200  # a small MNIST-shaped file: reading data is not what is timed here
# (stage, the event that ends it)
STAGES = [
    ("python and bigmodel's command line", "cli imported"),
    ("config read and checked", "config loaded"),
    ("import tensorflow", "tensorflow imported"),
    ("import keras, devices, strategy", "data started"),
    ("data: generate or read, tf.data", "data loaded"),
    ("run directory, build the model", "model built"),
    ("compile, callbacks, start fit", "fit started"),
    ("first step (traces the step function)", "first step done"),
]


def child(output: str, arguments: list[str]) -> None:
    """Run `bigmodel <arguments>` in this process with its stages timed, then write them."""
    events = {}

    def note(name):
        events[name] = time.time()

    def timed(module, name, before=None, after=None):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            if before:
                note(before)
            result = original(*args, **kwargs)
            if after:
                note(after)
            return result

        setattr(module, name, wrapper)

    import bigmodel_cli.cli as cli
    from bigmodel_cli import config
    from bigmodel_cli.train import runner

    note("cli imported")
    timed(config, "load", after="config loaded")
    original_import = runner.import_tensorflow

    def import_tensorflow(*args, **kwargs):
        tf = original_import(*args, **kwargs)
        note("tensorflow imported")
        # What the runner imports next anyway; importing these earlier would move TensorFlow.
        import keras

        from bigmodel_cli import data, models

        timed(data, "load", before="data started", after="data loaded")
        timed(models, "build_model", after="model built")
        timed(keras.Model, "fit", before="fit started")
        callback_list = keras.callbacks.CallbackList
        original_batch_end = callback_list.on_train_batch_end

        def on_train_batch_end(self, batch, logs=None):
            note("first step done")
            callback_list.on_train_batch_end = original_batch_end
            original_batch_end(self, batch, logs)

        callback_list.on_train_batch_end = on_train_batch_end
        return tf

    runner.import_tensorflow = import_tensorflow
    try:
        cli.main(arguments)
    except SystemExit as stop:
        if stop.code:
            raise
    finally:
        Path(output).write_text(json.dumps(events))


def timeline(arguments: list[str]) -> dict[str, float]:
    """Seconds of each stage of one fresh `bigmodel` process, and the total to the first step."""
    with tempfile.TemporaryDirectory(prefix="bigmodel-startup-") as scratch:
        record = Path(scratch) / "events.json"
        command = [sys.executable, __file__, "--child", str(record), "--",
                   *arguments, "--run-dir", str(Path(scratch) / "run")]
        started = time.time()
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        events = json.loads(record.read_text())
    stages, previous = {}, started
    for stage, event in STAGES:
        stages[stage] = events[event] - previous
        previous = events[event]
    stages["total to the first step"] = events["first step done"] - started
    return stages


def costliest_imports(arguments: list[str], shown: int = 12) -> list[tuple[str, float]]:
    """Cumulative import time per top-level package in one process (python -X importtime)."""
    with tempfile.TemporaryDirectory(prefix="bigmodel-startup-") as scratch:
        result = subprocess.run(
            # --verbose: otherwise bigmodel silences stderr, where -X importtime writes,
            # while TensorFlow loads.
            [sys.executable, "-X", "importtime", "-m", "bigmodel_cli", *arguments, "--verbose",
             "--run-dir", str(Path(scratch) / "run")],
            cwd=REPO, capture_output=True, text=True, check=True)
    totals = defaultdict(float)
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if match:  # no indent: imported directly, not by another module measured here
            totals[match.group(2).split(".")[0]] += int(match.group(1)) / 1e6
    costly = [(package, seconds) for package, seconds in totals.items() if seconds >= 0.005]
    return sorted(costly, key=lambda item: -item[1])[:shown]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--importtime", action="store_true", help="also list the slowest imports")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        child(args.child, rest[1:] if rest[:1] == ["--"] else rest)
        return
    print(f"load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    data = image_file(FAMILIES["mlp"], STARTUP_EXAMPLES)
    train = ["train", str(HERE / "configs" / "mlp.yaml"), "--set", f"data.path={data}",
             "--set", "training.epochs=1"]
    helps = help_times(max(9, args.repeats))
    print(f"bigmodel --help: median {statistics.median(helps):.2f} s "
          f"({', '.join(f'{value:.2f}' for value in helps)})\n")
    runs = [timeline(train) for _ in range(args.repeats)]
    print(f"bigmodel {' '.join(train[:2])} ..., median of {args.repeats} runs:")
    for stage in runs[0]:
        print(f"  {stage:<42}{statistics.median(run[stage] for run in runs):6.2f} s")
    if args.importtime:
        print("\ncostliest imports of `bigmodel train` (cumulative, one run):")
        for package, seconds in costliest_imports(train):
            print(f"  {package:<42}{seconds:6.2f} s")


if __name__ == "__main__":
    main()
