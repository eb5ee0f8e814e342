"""Checks of a config that the schema alone cannot make: they need another section (which
metrics the task logs) or a table of names (an optimizer's keywords, a prepared tfds dataset).

`problems` runs when a config is loaded, without TensorFlow; each problem is a dotted key and
a message, which `config.validate` turns into a located line. `check_monitors` runs again
before the first training step, against the metrics the compiled model really logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError, did_you_mean
from . import privacy_checks
from .known_names import TASK_METRICS, optimizer_keywords
from .schema import Config

Problem = tuple[tuple, str]
VALIDATION_PREFIX = "val_"
# Optimizer keywords that have a key of their own elsewhere in the config.
SET_ELSEWHERE = {"weight_decay": "optimizer.weight_decay", "clipnorm": "optimizer.clipnorm",
                 "global_clipnorm": "optimizer.global_clipnorm", "use_ema": "training.ema",
                 "ema_momentum": "training.ema",
                 "gradient_accumulation_steps": "training.gradient_accumulation_steps"}


def problems(config: Config, saved: bool = False) -> list[Problem]:
    """`saved`: the config of a run directory, whose model no longer needs its preset folder."""
    return [*optimizer_arguments(config), *monitors(config, validate_time_metrics(config)),
            *tfds_splits(config.data), *privacy_checks.problems(config),
            *([] if saved else [*preset_folder(config.model), *tokenizer_preset(config.data)])]


def preset_folder(model) -> Iterator[Problem]:
    """A pretrained model's preset folder exists and holds a readable config.json."""
    if model.family == "pretrained":
        from .presets import problem

        message = problem(model.preset)
        if message:
            yield ("model", "preset"), message


def tokenizer_preset(data) -> Iterator[Problem]:
    """data.tokenizer_preset names a folder holding a byte-level BPE tokenizer (a run keeps
    its own copy, so a saved config is not checked)."""
    if getattr(data, "tokenizer_preset", None):
        from ..data.preset_tokenizer import problem

        message = problem(data.tokenizer_preset)
        if message:
            yield ("data", "tokenizer_preset"), message


# --- optimizer.args -----------------------------------------------------------------------

def optimizer_arguments(config: Config) -> Iterator[Problem]:
    optimizer = config.optimizer
    accepted = [key for key in optimizer_keywords(optimizer.name) if key != "learning_rate"]
    for key in optimizer.args:
        path = ("optimizer", "args", key)
        if key == "learning_rate":
            yield path, "set optimizer.learning_rate (and optimizer.schedule) instead"
        elif key not in accepted:
            yield path, (f"'{optimizer.name}' takes no argument '{key}'"
                         f"{did_you_mean(key, accepted)} (accepted: {', '.join(accepted)})")
        elif key in SET_ELSEWHERE and _is_set(config, SET_ELSEWHERE[key]):
            yield path, f"set by {SET_ELSEWHERE[key]} already; remove it from optimizer.args"


def _is_set(config: Config, dotted: str) -> bool:
    section, key = dotted.split(".")
    value = getattr(getattr(config, section), key)
    return value is not None and not (key == "gradient_accumulation_steps" and value == 1)


# --- checkpoint.monitor, training.early_stopping.monitor ---------------------------------

def monitored(config: Config) -> Iterator[tuple[tuple, str]]:
    yield ("checkpoint", "monitor"), config.checkpoint.monitor
    if config.training.early_stopping is not None:
        yield ("training", "early_stopping", "monitor"), config.training.early_stopping.monitor


def monitors(config: Config, metric_names: list[str]) -> Iterator[Problem]:
    """A monitor must name a logged metric: loss, a metric of the task, or either with val_
    (without validation data the runner watches the training metric of that name)."""
    logged = [*metric_names, *(VALIDATION_PREFIX + name for name in metric_names)]
    for path, monitor in monitored(config):
        if monitor not in logged:
            yield path, (f"'{monitor}' is not a metric this run logs{did_you_mean(monitor, logged)}"
                         f" (it logs: {', '.join(logged)})")


def validate_time_metrics(config: Config) -> list[str]:
    """The metrics the run may log, as far as the config tells the task."""
    tasks = [config.model.task] if config.model.task != "auto" else _data_tasks(config)
    names = ["loss"]
    for task in tasks:
        names += [name for name in TASK_METRICS[task] if name not in names]
    return names


def _data_tasks(config: Config) -> list[str]:
    """The tasks the data can give, known without reading it."""
    data = config.data
    classification = ["multiclass"]
    if data.source == "synthetic":
        return ["regression"] if data.num_classes == 1 else classification
    if data.source in ("keras", "image_folder", "text_folder"):
        return classification  # class labels, or class folders
    if data.source == "csv" and data.label_type != "auto":
        return {"numeric": ["regression"], "multilabel": ["multilabel"]}.get(
            data.label_type, classification)
    if data.source == "sklearn" and not all(
            monitor.removeprefix(VALIDATION_PREFIX) == "loss" for _, monitor in monitored(config)):
        from ..train.dryrun import SKLEARN_SHAPES  # numpy: only when the task matters

        if data.name in SKLEARN_SHAPES:
            return classification if SKLEARN_SHAPES[data.name][2] else ["regression"]
    # Several labels per example come only from CSV label values like 'a|b'.
    return ["multiclass", "regression"] + (["multilabel"] if data.source == "csv" else [])


def metric_names(model) -> list[str]:
    """What a compiled Keras model logs for each epoch: `loss`, then its compiled metrics."""
    names = ["loss"]
    pending = list((model.get_compile_config() or {}).get("metrics") or [])
    while pending:
        metric = pending.pop(0)
        if isinstance(metric, (list, tuple)):
            pending[:0] = metric
        elif isinstance(metric, dict) and "config" in metric:
            names.append(metric["config"]["name"])
        elif isinstance(metric, dict):
            pending[:0] = metric.values()  # one list per output
        elif isinstance(metric, str):
            names.append(metric)
    return list(dict.fromkeys(names))


def check_monitors(config: Config, logged: list[str]) -> None:
    """Before the first step: a monitor that names no logged metric would leave the run
    without a best checkpoint or early stopping, in silence."""
    lines = [f"{'.'.join(path)}: {message}" for path, message in monitors(config, logged)]
    if lines:
        raise ConfigError("; ".join(lines))


# --- tfds splits of a locally prepared dataset --------------------------------------------

def tfds_splits(data) -> Iterator[Problem]:
    """Split names are checked when the dataset is prepared locally (its dataset_info.json);
    otherwise tfds itself knows them only after it downloads, so nothing is said."""
    if data.source != "tfds":
        return
    prepared = prepared_tfds_info(data.name, data.data_dir)
    if prepared is None:
        return
    folder, info = prepared
    known = [split.get("name") for split in info.get("splits", [])]
    for role in ("train", "validation", "test"):
        requested = getattr(data.splits, role)
        for part in (requested or "").split("+"):
            split = part.split("[")[0].strip()
            if split and known and split not in known:
                hint = "" if role == "train" else f"; or set data.splits.{role}: null to cut " \
                                                  "it from train"
                yield ("data", "splits", role), (
                    f"tfds dataset '{data.name}' (prepared in {folder}) has no split "
                    f"'{split}'{did_you_mean(split, known)} (its splits: {', '.join(known)})"
                    f"{hint}")


def prepared_tfds_info(name: str, data_dir: str | None) -> tuple[Path, dict] | None:
    """(folder, dataset_info.json) of `name` ('mnist', 'imdb_reviews/plain_text:1.0.0') as
    tfds prepares it: <data_dir>/<name>/<version>/; None when it is not there."""
    root = Path(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")
    dataset, _, version = name.partition(":")
    folder = root.expanduser() / dataset
    try:
        versions = [version] if version else sorted(
            (entry.name for entry in folder.iterdir()
             if entry.name.replace(".", "").isdigit() and (entry / "dataset_info.json").is_file()),
            key=lambda text: tuple(int(part) for part in text.split(".") if part))
        if not versions:
            return None
        info_file = folder / versions[-1] / "dataset_info.json"
        return info_file.parent, json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not prepared, or not readable: tfds will say more when it loads
