"""Pictures of a run, drawn with matplotlib's Agg backend (no display needed), written as PNG
files through atomic.py: curves, confusion matrix, ROC and PR curves, example images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import atomic, extras

DPI = 100
FIRST_COLUMNS = ("epoch", "step", "seconds", "learning_rate")
EXAMPLES_SHOWN = 36  # a 6 x 6 grid
MAX_ANNOTATED_CLASSES = 20  # counts written in the confusion matrix's cells up to this many


def pyplot():
    matplotlib = extras.require("matplotlib", "pictures (plots/*.png, report.html)")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(figure, path: Path, layout: bool = True) -> Path:
    plt = pyplot()
    if layout:
        figure.tight_layout()
    with atomic.atomic_path(Path(path)) as temporary:
        figure.savefig(temporary, dpi=DPI, format="png")
    plt.close(figure)
    return Path(path)


def metric_names(records: list[dict]) -> list[str]:
    """The metrics of a log without their val_ twin, in the order they first appear."""
    names = []
    for record in records:
        for key in record:
            base = key.removeprefix("val_")
            if key not in FIRST_COLUMNS and base not in names:
                names.append(base)
    return sorted(names, key=lambda name: (name != "loss", name))


def series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(record["epoch"], record[key]) for record in records
              if isinstance(record.get(key), int | float)]
    return [epoch for epoch, _ in points], [value for _, value in points]


def integer_epochs(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("epoch")


def curves(records: list[dict], path: Path, title: str = "") -> Path:
    """One panel per metric (train and validation), then the learning rate."""
    plt = pyplot()
    names = metric_names(records)
    panels = len(names) + 1
    columns = min(3, panels)
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    flat = list(axes.reshape(-1))
    for axis, name in zip(flat, names, strict=False):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            epochs, values = series(records, key)
            if values:
                axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set_title(name)
        integer_epochs(axis)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    rate_axis = flat[len(names)]
    epochs, rates = series(records, "learning_rate")
    rate_axis.plot(epochs, rates, color="tab:green", marker="o", markersize=3)
    rate_axis.set_title("learning rate")
    integer_epochs(rate_axis)
    rate_axis.grid(alpha=0.3)
    for axis in flat[panels:]:
        axis.axis("off")
    if title:
        figure.suptitle(title)
    return save(figure, path)


def confusion_matrix(matrix: dict, path: Path, title: str = "") -> Path:
    """Colours: each row normalized (the recall on the diagonal); numbers: the counts."""
    plt = pyplot()
    names = matrix["classes"]
    counts, normalized = np.array(matrix["counts"]), np.array(matrix["normalized"])
    size = min(max(4.0, 0.45 * len(names) + 2.5), 14.0)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(normalized, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = np.arange(len(names))
    axis.set_xticks(ticks, names, rotation=90 if len(names) > 6 else 0, fontsize=8)
    axis.set_yticks(ticks, names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if len(names) <= MAX_ANNOTATED_CLASSES:
        for row in range(len(names)):
            for column in range(len(names)):
                axis.text(column, row, str(counts[row, column]), ha="center", va="center",
                          fontsize=8, color="white" if normalized[row, column] > 0.5 else "black")
    axis.set_title(title or "confusion matrix")
    return save(figure, path)


def roc(y_true: np.ndarray, positive: np.ndarray, path: Path, title: str = "") -> Path:
    """ROC and precision-recall curves of the positive class."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    plt = pyplot()
    truth = np.asarray(y_true).reshape(-1)
    false_positive, true_positive, _ = roc_curve(truth, positive)
    precision, recall, _ = precision_recall_curve(truth, positive)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    left.plot(false_positive, true_positive, label=f"AUC {auc(false_positive, true_positive):.3f}")
    left.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    left.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    right.plot(recall, precision, color="tab:orange")
    right.axhline(truth.mean(), linestyle="--", color="grey", linewidth=1)
    right.set(xlabel="recall", ylabel="precision", title="precision-recall")
    for axis in (left, right):
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
    left.legend(loc="lower right")
    if title:
        figure.suptitle(title)
    return save(figure, path)


def examples(images: np.ndarray, truth: np.ndarray, predicted: np.ndarray,
             class_names: list[str], path: Path) -> Path:
    """A grid of images with true and predicted class, mistakes first (labels in red).

    The tiles are put together into one picture drawn once: 36 separate axes cost seconds.
    """
    plt = pyplot()
    wrong = np.flatnonzero(truth != predicted)
    chosen = np.concatenate([wrong, np.flatnonzero(truth == predicted)])[:EXAMPLES_SHOWN]
    columns = min(6, len(chosen))
    rows = math.ceil(len(chosen) / columns)
    tiles = [_displayable(images[index]) for index in chosen]
    height, width = tiles[0].shape[:2]
    pad = max(1, width // 8)
    band = max(2, round(height * 0.25))  # white space above each tile for its label
    sheet = np.ones(((height + band) * rows + pad, (width + pad) * columns + pad, 3))
    for number, tile in enumerate(tiles):
        top = band + (number // columns) * (height + band)
        left = pad + (number % columns) * (width + pad)
        sheet[top:top + height, left:left + width] = tile
    figure = plt.figure(figsize=(1.7 * columns, 1.9 * rows + 0.4))
    axis = figure.add_axes((0, 0, 1, 1 - 0.4 / (1.9 * rows + 0.4)))
    axis.imshow(sheet, interpolation="nearest", aspect="auto")
    axis.axis("off")
    for number, index in enumerate(chosen):
        mistake = truth[index] != predicted[index]
        axis.text(pad + (number % columns) * (width + pad) + width / 2,
                  band * 0.8 + (number // columns) * (height + band),
                  f"{class_names[truth[index]]} → {class_names[predicted[index]]}",
                  ha="center", va="bottom", fontsize=7,
                  color="tab:red" if mistake else "black")
    figure.suptitle(f"true → predicted ({len(wrong)} of {len(truth)} wrong)", fontsize=9,
                    y=0.995, va="top")
    return save(figure, path, layout=False)


def _displayable(image: np.ndarray) -> np.ndarray:
    """An image as RGB in [0, 1], stretched to its own range (raw pixels of any scale)."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[..., None]
    low, high = image.min(), image.max()
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    return image[..., :3]
