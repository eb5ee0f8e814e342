"""bigmodel against the classic hand-written Keras scripts, family by family, side by side.

    python benchmarks/compare.py                        # all four families, 3 rounds (make bench)
    python benchmarks/compare.py --families cnn rnn --repeats 5
    python benchmarks/compare.py --set training.steps_per_execution=1   # bigmodel-side override

The plain side is `benchmarks/plain/<family>_*.py` (numpy arrays into `model.fit`, default
settings, batch 32); the bigmodel side is `bigmodel train benchmarks/configs/<family>.yaml`:
same architecture, input shape, batch size, number of steps and epochs, and the same random
examples of the real datasets' shapes (images from one .npz file both sides read). Each round
runs both sides of every family one after the other, and which side goes first alternates from
round to round, so a change in machine load hits both.

Reported per side, as the median over rounds:
  train ex/s    examples per second of the training loop, epochs after the first (the first
                traces the step function); timed for both sides by benchmarks/probe.py
  ex/CPU-s      the same examples per second of CPU time the process used meanwhile (all
                threads): steadier than ex/s while other programs compete for the cores
  wall s        a whole small run: process start to exit (imports, data, model, every epoch,
                checkpoints and logs)
  first step s  process start to the end of the first training step
  peak MB       the process's maximum resident memory (ru_maxrss)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROBE = HERE / "probe.py"
BATCH_SIZE = 32


@dataclass(frozen=True)
class Family:
    plain_script: str
    config: str
    examples: int  # per epoch; a multiple of the batch size
    tokens_per_example: int = 0  # sequence models also report tokens/s
    # Image families read an .npz of uint8 images of this shape, both sides the same file (as
    # the classic scripts read keras' cached archives); token families generate their ids.
    image_file: tuple[str, tuple[int, ...]] | None = None
    text_file: bool = False  # bigmodel reads raw text, the plain script word ids


# Steps per epoch: a few seconds per epoch on a 2-core CPU, and multiples of 32 so that every
# steps_per_execution the sweeps try divides an epoch.
FAMILIES = {
    "mlp": Family("plain/mlp_mnist.py", "configs/mlp.yaml", 1024 * BATCH_SIZE,
                  image_file=("mnist_shaped", (28, 28))),
    "cnn": Family("plain/cnn_cifar10.py", "configs/cnn.yaml", 128 * BATCH_SIZE,
                  image_file=("cifar10_shaped", (32, 32, 3))),
    "rnn": Family("plain/rnn_imdb.py", "configs/rnn.yaml", 32 * BATCH_SIZE, 256),
    "transformer": Family("plain/transformer_imdb.py", "configs/transformer.yaml",
                          32 * BATCH_SIZE, 256),
    # Not in the default run: configs/rnn_imdb.yaml's own path, raw text vectorized in the model.
    "rnn_text": Family("plain/rnn_imdb.py", "configs/rnn_text.yaml", 32 * BATCH_SIZE, 256,
                       text_file=True),
    # Not in the default run (minutes): the pretrained MiniLM, bigmodel against a plain
    # keras-hub BertTextClassifier.fit on the same strings (benchmarks/plain/minilm_keras_hub.py).
    "minilm": Family("plain/minilm_keras_hub.py", "configs/minilm.yaml", 16 * 16, 128,
                     text_file=True),
}
DEFAULT_FAMILIES = ["mlp", "cnn", "rnn", "transformer"]
DATA = HERE / ".data"


@dataclass
class Sample:
    examples_per_second: float
    examples_per_cpu_second: float  # steadier than examples/s when other programs share the CPU
    wall_seconds: float
    first_step_seconds: float
    peak_megabytes: float


def image_file(family: Family, examples: int) -> Path:
    """Random uint8 images and labels of 10 classes, written once per shape and size."""
    stem, shape = family.image_file
    path = DATA / f"{stem}_{examples}.npz"
    if not path.exists():
        import numpy as np

        rng = np.random.default_rng(0)
        DATA.mkdir(exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.npz")
        np.savez(temporary, x_train=rng.integers(0, 256, (examples, *shape), dtype=np.uint8),
                 y_train=rng.integers(0, 10, examples, dtype=np.uint8))
        os.replace(temporary, path)
    return path


def text_file(examples: int) -> Path:
    """Random reviews of 128 to 256 words from a 10,000-word vocabulary, and binary labels."""
    path = DATA / f"imdb_text_{examples}.npz"
    if not path.exists():
        import numpy as np

        rng = np.random.default_rng(0)
        words = np.asarray([f"w{index}" for index in range(10_000)])
        reviews = [" ".join(words[rng.integers(0, len(words), length)])
                   for length in rng.integers(128, 257, examples)]
        DATA.mkdir(exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.npz")
        np.savez(temporary, x_train=np.asarray(reviews),
                 y_train=rng.integers(0, 2, examples, dtype=np.uint8))
        os.replace(temporary, path)
    return path


def data_arguments(family: Family, examples: int) -> tuple[list[str], list[str]]:
    """(plain script arguments, bigmodel overrides) that give both sides the same examples."""
    if family.text_file:
        return ["--examples", str(examples)], [f"data.path={text_file(examples)}"]
    if family.image_file:
        path = image_file(family, examples)
        return ["--data", str(path)], [f"data.path={path}"]
    return ["--examples", str(examples)], [f"data.num_examples={examples}"]


def plain_command(family: Family, examples: int, epochs: int) -> list[str]:
    return ["plain", str(HERE / family.plain_script), *data_arguments(family, examples)[0],
            "--epochs", str(epochs)]


def bigmodel_command(family: Family, examples: int, epochs: int, overrides: list[str],
                     run_dir: Path) -> list[str]:
    settings = [*data_arguments(family, examples)[1], f"training.epochs={epochs}", *overrides]
    return ["bigmodel", "train", str(HERE / family.config), "--run-dir", str(run_dir),
            *[part for setting in settings for part in ("--set", setting)]]


def run_side(arguments: list[str], examples: int, environment: dict | None = None) -> Sample:
    """Run `probe.py <arguments>` as a fresh process; raise with its log if it fails."""
    with tempfile.TemporaryDirectory(prefix="bigmodel-bench-") as scratch:
        scratch = Path(scratch)
        arguments = [str(scratch / "run") if part == "{run_dir}" else part for part in arguments]
        record_path, log_path = scratch / "probe.json", scratch / "output.log"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(environment or {})}
        with open(log_path, "w") as log:
            started = time.time()
            process = subprocess.Popen([sys.executable, str(PROBE), str(record_path), *arguments],
                                       cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
            # wait4 gives this child's own resource usage, ru_maxrss in KiB on Linux.
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.time() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        if process.returncode or len(record.get("epochs", [])) < 2:
            tail = log_path.read_text()[-3000:]
            raise RuntimeError(f"{' '.join(arguments[:3])} failed (exit {process.returncode}), "
                               f"or ran fewer than 2 epochs:\n{tail}")
    measured = record["epochs"][1:]  # the first epoch traces and compiles the step function
    seconds = sum(end - begin for begin, end, _, _ in measured)
    cpu_seconds = sum(end - begin for _, _, begin, end in measured)
    return Sample(
        examples_per_second=examples * len(measured) / seconds,
        examples_per_cpu_second=examples * len(measured) / cpu_seconds,
        wall_seconds=wall,
        first_step_seconds=record["first_step_end"] - started,
        peak_megabytes=usage.ru_maxrss / 1024,
    )


def median_sample(samples: list[Sample]) -> Sample:
    return Sample(*(statistics.median(getattr(sample, field) for sample in samples)
                    for field in Sample.__dataclass_fields__))


def help_times(repeats: int = 9, warmup: int = 2) -> list[float]:
    """Wall times of `bigmodel --help`, the console script as installed.

    The first runs right after the training rounds are left out, as hyperfine's --warmup
    does: measured, they took 0.29-0.31 s and the runs after them 0.20 s.
    """
    command = [str(Path(sys.executable).parent / "bigmodel"), "--help"]
    for _ in range(warmup):
        subprocess.run(command, cwd=REPO, capture_output=True, check=True)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def compare(families: list[str], repeats: int, epochs: int, scale: float,
            overrides: list[str]) -> dict:
    samples = {name: {"plain": [], "bigmodel": []} for name in families}
    for round_index in range(repeats):
        for name in families:
            family = FAMILIES[name]
            examples = max(1, round(family.examples * scale / BATCH_SIZE)) * BATCH_SIZE
            sides = {"plain": plain_command(family, examples, epochs),
                     "bigmodel": bigmodel_command(family, examples, epochs, overrides,
                                                  Path("{run_dir}"))}
            order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
            for side in order:
                sample = run_side(sides[side], examples)
                samples[name][side].append(sample)
                print(f"  round {round_index + 1}/{repeats} {name:<11} {side:<8} "
                      f"{sample.examples_per_second:>9,.0f} ex/s "
                      f"{sample.examples_per_cpu_second:>8,.0f} ex/CPU-s "
                      f"{sample.wall_seconds:5.1f} s wall  (load {load_average()})", flush=True)
    return samples


def print_table(samples: dict, help_time: float | None) -> dict:
    rows = {}
    print(f"\n{'family':<12}{'side':<10}{'train ex/s':>12}{'tokens/s':>11}{'ex/CPU-s':>10}"
          f"{'wall s':>9}{'first step s':>14}{'peak MB':>9}")
    for name, sides in samples.items():
        plain, bigmodel = median_sample(sides["plain"]), median_sample(sides["bigmodel"])
        tokens = FAMILIES[name].tokens_per_example
        for side, sample in (("plain", plain), ("bigmodel", bigmodel)):
            token_rate = f"{sample.examples_per_second * tokens:,.0f}" if tokens else "-"
            print(f"{name:<12}{side:<10}{sample.examples_per_second:>12,.0f}{token_rate:>11}"
                  f"{sample.examples_per_cpu_second:>10,.0f}{sample.wall_seconds:>9.1f}"
                  f"{sample.first_step_seconds:>14.1f}{sample.peak_megabytes:>9,.0f}")
        speed = bigmodel.examples_per_second / plain.examples_per_second
        cpu = bigmodel.examples_per_cpu_second / plain.examples_per_cpu_second
        wall = bigmodel.wall_seconds / plain.wall_seconds
        print(f"{'':<12}{'ratio':<10}{speed:>11.2f}x{'':>11}{cpu:>9.2f}x{wall:>8.2f}x"
              f"   (targets: >= 1.20x train ex/s {'met' if speed >= 1.2 else 'MISSED'}, "
              f"<= 1.10x wall {'met' if wall <= 1.1 else 'MISSED'})")
        rows[name] = {"plain": asdict(plain), "bigmodel": asdict(bigmodel),
                      "speed_ratio": speed, "cpu_ratio": cpu, "wall_ratio": wall}
    if help_time is not None:
        print(f"\nbigmodel --help: {help_time:.2f} s (target < 0.3 s: "
              f"{'met' if help_time < 0.3 else 'MISSED'})")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=DEFAULT_FAMILIES)
    parser.add_argument("--repeats", type=int, default=3, help="rounds (medians over them)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (at least 2)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply steps per epoch")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a bigmodel config value")
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is not timed")
    print(f"{len(args.families)} families x 2 sides x {args.repeats} rounds, {args.epochs} "
          f"epochs each; {os.cpu_count()} CPUs, load {load_average()}", flush=True)
    samples = compare(args.families, args.repeats, args.epochs, args.scale, args.overrides)
    rows = print_table(samples, statistics.median(help_times()))
    print(f"load average at the end: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps({
            "rows": rows, "load_average": os.getloadavg(), "arguments": sys.argv[1:],
            "samples": {name: {side: [asdict(sample) for sample in side_samples]
                               for side, side_samples in sides.items()}
                        for name, sides in samples.items()}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
