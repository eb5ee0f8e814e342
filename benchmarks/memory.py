"""Peak memory of `bigmodel train` by data size and data.cache: does memory grow with the data?

    python benchmarks/memory.py             # 5k and 50k images, 200 MB of text (make bench-memory)
    python benchmarks/memory.py --quick     # 500 and 2,000 images, 5 MB of text: a smoke test
    python benchmarks/memory.py --sizes 5000 20000 --text-mb 0 --cache auto false memory

The data is written once into benchmarks/.data/ (seeded: every run reads the same files):
  * image folders of N synthetic 32x32 RGB JPEGs in 10 class folders (a colour per class plus
    noise), for each of --sizes;
  * a text_folder corpus of about --text-mb MB: 2 class folders of .txt files of 100 to 1,000
    words from a 20,000-word vocabulary (frequencies falling off as in real text), each class
    favouring words of its own.
Each measurement is one `bigmodel train` of benchmarks/configs/memory_images.yaml or
memory_text.yaml in a fresh process, with data.path, data.cache and training.epochs given by
--set. Its peak RSS is the ru_maxrss that os.wait4 returns: the largest resident set of the
process and of any children it waited for. (Linux counts a child's memory from the fork on, so
this process stays small: no TensorFlow here.) Every size and cache value trains one epoch,
except the largest image folder with cache auto and with cache memory (the in-memory path of
today), which train two: their epoch-2 examples/s (training examples / the seconds of epoch 2
in the run's metrics.jsonl) are compared.

Targets (issue 12): with cache false, peak RSS at the largest image folder at most 1.3x that at
the smallest; with cache auto, epoch-2 examples/s of the largest at least 0.9x cache memory's.
A cache value the config does not take (or would read as a file path, as before `auto`
existed) is reported as skipped, not run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The schema check below imports this checkout's bigmodel_cli, not an installed one (the
# trainings already run it: `python -m bigmodel_cli` from REPO).
sys.path.insert(0, str(REPO))
DATA = HERE / ".data"
CONFIGS = {"images": HERE / "configs" / "memory_images.yaml",
           "text": HERE / "configs" / "memory_text.yaml"}
IMAGE_SHAPE, IMAGE_CLASSES = (32, 32, 3), 10
TEXT_CLASSES, VOCABULARY, OWN_WORDS = ("negative", "positive"), 20_000, 200
BASELINE = "memory"  # today's in-memory path, which the cache-auto speed is measured against
RSS_TARGET, SPEED_TARGET = 1.3, 0.9
QUICK = {"sizes": [500, 2000], "text_mb": 5.0}


@dataclass
class Measurement:
    data: str  # images | text
    size: str  # as the table shows it: "5,000 images", "200 MB"
    cache: str  # as given to --cache; "default" sets nothing
    epochs: int
    peak_mb: float | None = None
    wall_seconds: float | None = None
    epoch2_rate: float | None = None
    note: str = ""


# --- data, written once -------------------------------------------------------------------

def written_once(path: Path, write) -> Path:
    """`path`, first filled by `write(folder)` under a temporary name and renamed whole."""
    if not path.exists():
        temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        write(temporary)
        os.rename(temporary, path)
    return path


def image_folder(count: int) -> Path:
    def write(root: Path) -> None:
        from PIL import Image

        rng = np.random.default_rng(count)
        colours = rng.uniform(40, 215, (IMAGE_CLASSES, 3))
        for index in range(count):
            label = index % IMAGE_CLASSES
            folder = root / f"class_{label}"
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.clip(colours[label] + rng.normal(0, 40, IMAGE_SHAPE), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{index:06d}.jpg",
                                                          quality=90)

    return written_once(DATA / f"jpeg32_{count}", write)


def text_folder(megabytes: float) -> Path:
    def write(root: Path) -> None:
        rng = np.random.default_rng(int(megabytes * 1000))
        words = np.asarray([f"w{index}" for index in range(VOCABULARY)])
        frequencies = 1 / (np.arange(VOCABULARY) + 10.0)  # Zipf-like: a few words are common
        cumulative = np.cumsum(frequencies / frequencies.sum())
        own = rng.integers(0, VOCABULARY, (len(TEXT_CLASSES), OWN_WORDS))
        for name in TEXT_CLASSES:
            (root / name).mkdir(parents=True)
        written, index = 0, 0
        while written < megabytes * 1e6:
            label = index % len(TEXT_CLASSES)
            length = int(rng.integers(100, 1001))
            ids = np.minimum(np.searchsorted(cumulative, rng.random(length)), VOCABULARY - 1)
            mine = rng.random(length) < 0.1
            ids[mine] = own[label, rng.integers(0, OWN_WORDS, mine.sum())]
            text = " ".join(words[ids]) + "\n"
            (root / TEXT_CLASSES[label] / f"{index:06d}.txt").write_text(text)
            written, index = written + len(text), index + 1

    return written_once(DATA / f"text_{megabytes:g}mb", write)


# --- one measurement ------------------------------------------------------------------------

def cache_settings(cache: str) -> list[str]:
    return [] if cache == "default" else [f"data.cache={cache}"]


def cache_problem(kind: str, data_path: Path, cache: str) -> str | None:
    """Why this bigmodel cannot measure `cache` for this data, or None when it can."""
    from bigmodel_cli import config as config_module
    from bigmodel_cli.errors import BigModelError

    try:
        loaded = config_module.load(CONFIGS[kind], [f"data.path={data_path}",
                                                    *cache_settings(cache)])
    except BigModelError as error:
        return str(error)
    value = getattr(loaded.data, "cache", None)
    if cache == "default" or not isinstance(value, str) or "/" in cache:
        return None  # false, or a file path given as one
    field = type(loaded.data).model_fields["cache"]
    if value == BASELINE or value == field.default or value in _named_values(
            type(loaded.data).model_json_schema()["properties"]["cache"]):
        return None
    return (f"data.cache: {cache} is not a cache mode of this bigmodel, whose schema would "
            f"read it as a file path ({field.description})")


def _named_values(schema) -> set:
    """Every enum or const value in a JSON schema fragment."""
    if isinstance(schema, list):
        return set().union(*map(_named_values, schema))
    if not isinstance(schema, dict):
        return set()
    named = set(schema.get("enum", [])) | ({schema["const"]} if "const" in schema else set())
    return named.union(*map(_named_values, schema.values()))


def measure(kind: str, size: str, data_path: Path, cache: str, epochs: int) -> Measurement:
    """One `bigmodel train` in a fresh process: its peak RSS, wall time and epoch-2 rate."""
    result = Measurement(kind, size, cache, epochs)
    problem = cache_problem(kind, data_path, cache)
    if problem:
        result.note = f"skipped: {problem}"
        return result
    settings = [f"data.path={data_path}", f"training.epochs={epochs}", *cache_settings(cache)]
    with tempfile.TemporaryDirectory(prefix="bigmodel-memory-") as scratch:
        run_dir, log_path = Path(scratch) / "run", Path(scratch) / "output.log"
        command = [sys.executable, "-m", "bigmodel_cli", "train", str(CONFIGS[kind]),
                   "--run-dir", str(run_dir),
                   *[part for setting in settings for part in ("--set", setting)]]
        with open(log_path, "w") as log:
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            _, status, usage = os.wait4(process.pid, 0)  # ru_maxrss: KiB on Linux
        result.wall_seconds = time.perf_counter() - started
        result.peak_mb = usage.ru_maxrss / 1024
        code = os.waitstatus_to_exitcode(status)
        if code:
            last = log_path.read_text().strip().splitlines()[-1:] or [""]
            result.note = (f"killed by signal {-code}" if code < 0 else f"failed (exit {code})"
                           ) + f": {last[0][:200]}"
        elif epochs >= 2:
            result.epoch2_rate = epoch_rate(run_dir, epoch=2)
    return result


def epoch_rate(run_dir: Path, epoch: int) -> float:
    """Training examples / the seconds of that epoch, from the run's own logs."""
    train = json.loads((run_dir / "results.json").read_text())["examples"]["train"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return train / next(row["seconds"] for row in rows if row["epoch"] == epoch)


# --- the whole benchmark --------------------------------------------------------------------

def run(sizes: list[int], text_mb: float, caches: list[str]) -> list[Measurement]:
    largest, results = max(sizes), []
    for count in sorted(set(sizes)):
        path = image_folder(count)
        wanted = caches + ([BASELINE] if count == largest and BASELINE not in caches else [])
        for cache in wanted:
            epochs = 2 if count == largest and cache in ("auto", BASELINE) else 1
            results.append(report(measure("images", f"{count:,} images", path, cache, epochs)))
    if text_mb > 0:
        path = text_folder(text_mb)
        for cache in caches:
            results.append(report(measure("text", f"{text_mb:g} MB", path, cache, 1)))
    return results


def report(measurement: Measurement) -> Measurement:
    print(f"  {measurement.size:<15} cache {measurement.cache:<8} "
          f"{_number(measurement.peak_mb, ',.0f')} MB peak  "
          f"{_number(measurement.wall_seconds, '.1f')} s  {measurement.note}", flush=True)
    return measurement


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[Measurement]) -> None:
    print("\n| data | size | data.cache | epochs | peak RSS MB | wall s | epoch 2 ex/s | note |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for item in results:
        print(f"| {item.data} | {item.size} | {item.cache} | {item.epochs} | "
              f"{_number(item.peak_mb, ',.0f')} | {_number(item.wall_seconds, '.1f')} | "
              f"{_number(item.epoch2_rate, ',.0f')} | {item.note.replace('|', '/')} |")


def print_ratios(results: list[Measurement], sizes: list[int]) -> None:
    def find(count: int, cache: str, field: str):
        for item in results:
            if item.size == f"{count:,} images" and item.cache == cache and not item.note:
                return getattr(item, field)
        return None

    small, large = min(sizes), max(sizes)
    print()
    if small == large:
        print("peak RSS with cache false, largest / smallest images: needs two --sizes")
    else:
        ratio_line(f"peak RSS with cache false, {large:,} / {small:,} images",
                   find(large, "false", "peak_mb"), find(small, "false", "peak_mb"),
                   f"<= {RSS_TARGET:g}", lambda ratio: ratio <= RSS_TARGET)
    ratio_line(f"epoch-2 examples/s of {large:,} images, cache auto / cache {BASELINE}",
               find(large, "auto", "epoch2_rate"), find(large, BASELINE, "epoch2_rate"),
               f">= {SPEED_TARGET:g}", lambda ratio: ratio >= SPEED_TARGET)


def ratio_line(what: str, top: float | None, bottom: float | None, target: str, met) -> None:
    if top is None or bottom is None:
        print(f"{what}: not measured (a run was skipped or failed)")
    else:
        ratio = top / bottom
        print(f"{what}: {ratio:.2f}x (target {target}: {'ok' if met(ratio) else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50_000],
                        help="image folder sizes; the ratios compare the largest and smallest")
    parser.add_argument("--text-mb", type=float, default=200.0, help="text corpus; 0: none")
    parser.add_argument("--cache", nargs="+", default=["auto", "false"],
                        help="data.cache values to measure; 'default' sets none")
    parser.add_argument("--quick", action="store_true",
                        help=f"sizes {QUICK['sizes']} and {QUICK['text_mb']:g} MB of text")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.sizes, arguments.text_mb = QUICK["sizes"], QUICK["text_mb"]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"{os.cpu_count()} CPU cores, {memory:.0f} GiB RAM, load "
          f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}, "
          f"TensorFlow {metadata.version('tensorflow')}; writing data into {DATA} once",
          flush=True)
    DATA.mkdir(exist_ok=True)
    results = run(arguments.sizes, arguments.text_mb, arguments.cache)
    print_table(results)
    print_ratios(results, arguments.sizes)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process's own peak RSS, a floor under every reading: {own:,.0f} MB)")


if __name__ == "__main__":
    main()
