"""The measurements behind what `auto` means on this device: bigmodel against itself.

    python benchmarks/sweep.py steps_per_execution            # 1 vs 8 vs 32, every family
    python benchmarks/sweep.py jit_compile --families rnn cnn
    python benchmarks/sweep.py threads --repeats 5
    python benchmarks/sweep.py tf_data

Each variant is a `bigmodel train benchmarks/configs/<family>.yaml` run with some `--set`
overrides or environment variables; variants take turns (the order reverses every round), and
the table shows medians and each variant's speed relative to the first. Timing is the same as
in compare.py (benchmarks/probe.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from compare import (
    BATCH_SIZE,
    DEFAULT_FAMILIES,
    FAMILIES,
    bigmodel_command,
    load_average,
    run_side,
)

# name -> variants: (label, config overrides, environment)
SWEEPS = {
    "steps_per_execution": [
        (f"spe {steps}", [f"training.steps_per_execution={steps}"], {}) for steps in (1, 8, 32)],
    "jit_compile": [
        ("xla off", ["training.jit_compile=false"], {}),
        ("xla on", ["training.jit_compile=true"], {})],
    # TensorFlow reads these when its runtime starts; 0 means one thread per core.
    "threads": [
        ("default", [], {}),
        ("inter 1", [], {"TF_NUM_INTEROP_THREADS": "1"}),
        ("intra 1", [], {"TF_NUM_INTRAOP_THREADS": "1"}),
        ("onednn off", [], {"TF_ENABLE_ONEDNN_OPTS": "0"})],
    "tf_data": [
        ("deterministic", ["data.deterministic=true"], {}),
        ("nondeterministic", ["data.deterministic=false"], {})],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", choices=list(SWEEPS))
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=DEFAULT_FAMILIES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply steps per epoch")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config value in every variant")
    args = parser.parse_args()
    variants = SWEEPS[args.sweep]
    print(f"sweep {args.sweep}: {len(variants)} variants x {len(args.families)} families x "
          f"{args.repeats} rounds; load {load_average()}", flush=True)
    rates = {(family, label): [] for family in args.families for label, _, _ in variants}
    walls = {key: [] for key in rates}
    cpu_rates = {key: [] for key in rates}
    for round_index in range(args.repeats):
        for family_name in args.families:
            family = FAMILIES[family_name]
            examples = max(1, round(family.examples * args.scale / BATCH_SIZE)) * BATCH_SIZE
            order = variants if round_index % 2 == 0 else list(reversed(variants))
            for label, overrides, environment in order:
                command = bigmodel_command(family, examples, args.epochs,
                                           [*args.overrides, *overrides], Path("{run_dir}"))
                sample = run_side(command, examples, environment)
                rates[family_name, label].append(sample.examples_per_second)
                walls[family_name, label].append(sample.wall_seconds)
                cpu_rates[family_name, label].append(sample.examples_per_cpu_second)
                print(f"  round {round_index + 1} {family_name:<11} {label:<16} "
                      f"{sample.examples_per_second:>9,.0f} ex/s "
                      f"{sample.examples_per_cpu_second:>8,.0f} ex/CPU-s "
                      f"{sample.wall_seconds:6.1f} s (load {load_average()})", flush=True)
    print(f"\n{'family':<12}{'variant':<18}{'train ex/s':>12}{'vs first':>10}{'ex/CPU-s':>10}"
          f"{'vs first':>10}{'wall s':>9}   all ex/s")
    for family_name in args.families:
        first = statistics.median(rates[family_name, variants[0][0]])
        first_cpu = statistics.median(cpu_rates[family_name, variants[0][0]])
        for label, _, _ in variants:
            median = statistics.median(rates[family_name, label])
            cpu = statistics.median(cpu_rates[family_name, label])
            print(f"{family_name:<12}{label:<18}{median:>12,.0f}{median / first:>9.2f}x"
                  f"{cpu:>10,.0f}{cpu / first_cpu:>9.2f}x"
                  f"{statistics.median(walls[family_name, label]):>9.1f}   "
                  f"{', '.join(f'{rate:,.0f}' for rate in rates[family_name, label])}")
    print(f"load average at the end: {load_average()}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
