"""`bigmodel data inspect CONFIG`: the dataset as training will see it, without training.

Splits and their sizes, the class balance of each split, the input spec the model will be built
from, a few training examples (for images, a grid saved as a PNG) and the speed of the training
input pipeline on its own. Examples come from the training pipeline, so they are shuffled and
augmented exactly as the model will see them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from .. import atomic, tasks
from ..runtime.tfenv import import_tensorflow
from .bundle import DataBundle
from .spec import IMAGE, REGRESSION, TABLE, TEXT, TOKENS, InputSpec

MEASURED_BATCHES = 200  # per pass: enough for a steady rate, short on a big dataset
GRID_SIDE = 64  # small images are enlarged to about this many pixels in the grid
GRID_GAP = 2
TEXT_WIDTH = 100


def inspect(config, output: Path, examples: int = 16, verbose: bool = False) -> dict:
    import_tensorflow(verbose)
    from .. import data

    started = time.perf_counter()
    bundle = data.load(config.data, config.seed)
    report = {
        "source": config.data.source,
        "dataset": config.data.name or config.data.path or config.data.kind,
        "load_seconds": round(time.perf_counter() - started, 2),
        "sizes": bundle.sizes,
        "skipped": bundle.skipped,
        "skipped_names": bundle.skipped_names,
        "task": bundle.target.task,
        "class_balance": class_balance(bundle),
        "input": describe_input(bundle.input_spec),
    }
    report["examples"] = show_examples(bundle, examples, output)
    report["pipeline"] = measure(bundle.train, config.data.batch_size)
    return report


def class_balance(bundle: DataBundle) -> dict:
    """{split: {class name: count}}, or for regression {split: {min, mean, max}}."""
    task = tasks.get(bundle.target.task)
    return {split: task.label_counts(labels, bundle.target)
            for split, labels in bundle.labels.items() if labels is not None}


def describe_input(spec: InputSpec) -> dict:
    described = {"kind": spec.kind, "shape": list(spec.shape), "dtype": spec.dtype}
    if spec.kind == IMAGE:
        described["scale"] = spec.scale
    elif spec.kind == TEXT:
        described.update(vocabulary=len(spec.vocabulary or []),
                         sequence_length=spec.sequence_length, standardize=spec.standardize,
                         most_frequent=list((spec.vocabulary or [])[:10]))
    elif spec.kind == TOKENS:
        described.update(vocab_size=spec.vocab_size, sequence_length=spec.sequence_length)
    elif spec.kind == TABLE:
        described["columns"] = {column.name: describe_column(column)
                                for column in spec.columns}
    return described


def describe_column(column) -> str:
    if column.type == "numeric":
        return f"numeric, mean {column.mean:.4g}, std {math.sqrt(column.variance):.4g}"
    if column.type == "categorical":
        return f"categorical, {len(column.vocabulary)} values, {column.encoding}"
    return f"text, {len(column.vocabulary)} words, length {column.sequence_length}"


# --- examples -----------------------------------------------------------------------------

def show_examples(bundle: DataBundle, count: int, output: Path) -> dict:
    """The first `count` training examples: images go to a PNG grid, others into the report."""
    inputs, labels = first_examples(bundle.train, count)
    names = [label_name(bundle, label) for label in labels]
    spec = bundle.input_spec
    if spec.kind == IMAGE:
        write_grid(inputs, output, spec.scale or 1 / 255)
        return {"grid": str(output), "labels": names}
    if spec.kind == TABLE:
        rows = [{name: plain(values[index]) for name, values in inputs.items()}
                for index in range(len(labels))]
    elif spec.kind == TEXT:
        rows = [shorten(plain(text)) for text in inputs]
    else:
        rows = [shorten(" ".join(f"{value:.4g}" if isinstance(value, float) else str(value)
                                 for value in np.ravel(example).tolist()))
                for example in inputs]
    return {"rows": [{"input": row, "label": name} for row, name in zip(rows, names,
                                                                           strict=True)]}


def first_examples(dataset, count: int):
    """Up to `count` (inputs, labels) from the first batches, as numpy."""
    inputs, labels = [], []
    for batch_inputs, batch_labels in dataset:
        inputs.append(batch_inputs)
        labels.append(batch_labels.numpy())
        if sum(len(part) for part in labels) >= count:
            break
    labels = np.concatenate(labels)[:count]
    if isinstance(inputs[0], dict):
        return {name: np.concatenate([part[name].numpy() for part in inputs])[:count]
                for name in inputs[0]}, labels
    return np.concatenate([part.numpy() for part in inputs])[:count], labels


def label_name(bundle: DataBundle, label) -> str:
    return tasks.get(bundle.target.task).label_text(label, bundle.target)


def plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value.item() if hasattr(value, "item") else value


def shorten(text: str, width: int = TEXT_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def write_grid(images: np.ndarray, output: Path, scale: float) -> None:
    """Images side by side, row by row, enlarged when small, as one PNG."""
    import tensorflow as tf

    count, height, width, channels = images.shape
    pixels = np.clip(np.round(images * scale * 255), 0, 255).astype(np.uint8)
    zoom = max(1, GRID_SIDE // max(height, width))
    pixels = pixels.repeat(zoom, axis=1).repeat(zoom, axis=2)
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    cell_height, cell_width = height * zoom + GRID_GAP, width * zoom + GRID_GAP
    grid = np.full((rows * cell_height + GRID_GAP, columns * cell_width + GRID_GAP, channels),
                   255, np.uint8)
    for index, image in enumerate(pixels):
        top = GRID_GAP + (index // columns) * cell_height
        left = GRID_GAP + (index % columns) * cell_width
        grid[top:top + height * zoom, left:left + width * zoom] = image
    with atomic.atomic_path(Path(output)) as temporary:
        temporary.write_bytes(tf.io.encode_png(grid).numpy())


# --- input pipeline speed -----------------------------------------------------------------

def measure(dataset, batch_size: int) -> dict:
    """Examples per second of two passes over the training pipeline (the first one reads and
    fills caches; the second is the steady rate), each at most MEASURED_BATCHES batches."""
    passes = []
    for _ in range(2):
        examples, started = 0, time.perf_counter()
        for index, (_, labels) in enumerate(dataset):
            examples += len(labels)
            if index + 1 >= MEASURED_BATCHES:
                break
        seconds = time.perf_counter() - started
        passes.append({"examples": examples, "seconds": round(seconds, 3),
                       "examples_per_second": round(examples / max(seconds, 1e-9), 1)})
    return {"batch_size": batch_size, "first_pass": passes[0], "second_pass": passes[1]}


def render(report: dict, console) -> None:
    """The report for people: one block per part, in the order of the report."""
    from rich.table import Table

    console.print(f"{report['source']} {report['dataset']} (loaded in "
                  f"{report['load_seconds']} s), task {report['task']}", style="bold",
                  highlight=False)
    console.print("splits: " + ", ".join(f"{name} {size:,}"
                                         for name, size in report["sizes"].items()))
    if report["skipped"]:
        console.print(f"skipped: {report['skipped']} ({', '.join(report['skipped_names'])}"
                      f"{', ...' if report['skipped'] > len(report['skipped_names']) else ''})",
                      markup=False)
    balance = Table(title="class balance" if report["task"] != REGRESSION else "targets")
    splits = list(report["class_balance"])
    balance.add_column("")
    for split in splits:
        balance.add_column(split, justify="right")
    for key in (report["class_balance"][splits[0]] if splits else {}):
        balance.add_row(key, *(number(report["class_balance"][split].get(key, 0))
                               for split in splits))
    console.print(balance)
    console.print("input: " + ", ".join(f"{key} {value}" for key, value in
                                        report["input"].items() if key != "columns"),
                  markup=False)
    for name, description in report["input"].get("columns", {}).items():
        console.print(f"  {name}: {description}", markup=False)
    examples = report["examples"]
    if "grid" in examples:
        console.print(f"examples: {len(examples['labels'])} training images in "
                      f"{examples['grid']} (row by row): {', '.join(examples['labels'])}",
                      markup=False)
    else:
        console.print("examples:")
        for row in examples["rows"]:
            console.print(f"  {row['label']}: {row['input']}", markup=False)
    pipeline = report["pipeline"]
    console.print(f"input pipeline alone, batch {pipeline['batch_size']}: "
                  f"{pipeline['first_pass']['examples_per_second']:,.0f} examples/s first pass, "
                  f"{pipeline['second_pass']['examples_per_second']:,.0f} examples/s second pass")


def number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
