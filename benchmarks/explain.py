"""Integrated gradients on a trained run: seconds per explanation and the completeness gap, by
step count.

    python benchmarks/explain.py runs/quickstart digits/*.png --steps 16 64 256

The model is loaded once; the first explanation (it traces nothing, but warms TensorFlow's
kernels) is left out of the timing. Reported per step count: the median seconds per input,
the median and largest completeness gap as a fraction of f(input) - f(baseline), and how many
inputs are over the 5% that `bigmodel explain` warns about.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bigmodel_cli import tasks  # noqa: E402
from bigmodel_cli.predict.explain import check_options, explain_batch  # noqa: E402
from bigmodel_cli.predict.inference import load_model, load_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--steps", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--baseline", default="auto")
    arguments = parser.parse_args()

    run, config, spec, target = load_run(arguments.run_dir)
    task = tasks.resolve(target, config.model.task)
    baseline = check_options("integrated_gradients", 1, arguments.baseline, spec)
    model = load_model(run)  # imports TensorFlow quietly
    from bigmodel_cli.predict.inputs import read_inputs

    labels, batch = read_inputs(arguments.inputs, spec)
    explain_batch(model, spec, target, task.name, labels[:1], batch[:1],
                  "integrated_gradients", 4, baseline, None)  # warm-up
    print(f"{arguments.run_dir}: {len(labels)} inputs, baseline {baseline}")
    print(f"{'steps':>6} {'s/input':>8} {'median gap':>11} {'max gap':>8} {'over 5%':>8}")
    for steps in arguments.steps:
        seconds, gaps = [], []
        for number in range(len(labels)):
            start = time.perf_counter()
            found, = explain_batch(model, spec, target, task.name, labels[number:number + 1],
                                   batch[number:number + 1], "integrated_gradients", steps,
                                   baseline, None)
            seconds.append(time.perf_counter() - start)
            gaps.append(found.attribution.gap_fraction)
        over = sum(gap > 0.05 for gap in gaps)
        print(f"{steps:>6} {statistics.median(seconds):>8.3f} {statistics.median(gaps):>11.2%} "
              f"{max(gaps):>8.2%} {over:>8}")


if __name__ == "__main__":
    main()
