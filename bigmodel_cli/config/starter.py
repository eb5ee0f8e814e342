"""`bigmodel init`: a commented starter config for a model family and a dataset.

Values and comments come from the schema itself (defaults, descriptions, allowed values), so
the starter always validates and never drifts from what `config show` prints.
"""

from __future__ import annotations

import typing

from ..data import keras_source, sklearn_source
from ..errors import UsageError, unknown_name
from ..train.dryrun import SKLEARN_SHAPES
from . import schema
from .yamlio import align_comments, flow

DEFAULT_FAMILY = "cnn"
DEFAULT_DATASETS = {"sklearn": "digits", "keras": "mnist", "tfds": "mnist"}
SYNTHETIC_KINDS = {"mlp": "vector", "cnn": "image", "rnn": "tokens", "transformer": "text"}
# Families that cannot read an input kind, and what to use instead.
UNSUPPORTED = {("cnn", "vector"): "mlp"}
MODEL_CLASSES = {"mlp": schema.MlpConfig, "cnn": schema.CnnConfig, "rnn": schema.RnnConfig,
                 "transformer": schema.TransformerConfig}
UNSET = object()
# Advice the schema does not carry, by (section, key).
COMMENTS = {
    ("data", "name"): "dataset name",
    ("optimizer", "name"): "any Keras optimizer: " + ", ".join(schema.OPTIMIZERS),
    ("optimizer", "schedule"): "constant | cosine | exponential | piecewise, or a mapping: "
                               "{name: cosine, warmup_steps: 500}",
    ("training", "early_stopping"): "or {monitor: val_loss, patience: 3}",
}


def starter_config(family: str | None = None, dataset: str | None = None,
                   source: str | None = None) -> str:
    """The YAML text of a starter config; raises UsageError for a combination that can't work."""
    family = family or DEFAULT_FAMILY
    if family not in MODEL_CLASSES:
        raise UsageError("--family: " + unknown_name("model family", family, MODEL_CLASSES))
    source = source or infer_source(dataset)
    if source not in schema.DATA_SOURCES:
        raise UsageError("--source: " + unknown_name("data source", source, schema.DATA_SOURCES))
    if source == "synthetic" and dataset:
        raise UsageError(f"--dataset {dataset}: synthetic data has no name; drop --dataset "
                         "or pick another --source")
    dataset = dataset or DEFAULT_DATASETS.get(source)
    kind = _check_dataset(source, dataset, family)
    name = f"{family}_{dataset or kind}".replace("/", "_").replace(":", "_")
    rows = [(f"name: {flow(name)}", "run directory: runs/<name>"), ("seed: 42", None)]
    rows += _data_rows(source, dataset, kind)
    rows += _model_rows(family)
    rows += _section("optimizer", schema.OptimizerConfig, {
        "name": "adam", "learning_rate": UNSET, "schedule": "constant"})
    rows += _section("training", schema.TrainingConfig, {"epochs": UNSET,
                                                         "early_stopping": None})
    rows += _section("distribute", schema.DistributeConfig, {"strategy": UNSET})
    command = " ".join(["bigmodel init", f"--family {family}",
                        f"--source {source}" + (f" --dataset {dataset}" if dataset else "")])
    header = (f"# A {family} model on {source} data{f' {dataset!r}' if dataset else ''}, from "
              f"`{command}`.\n"
              f"# Save it as {name}.yaml, then:\n"
              f"#   bigmodel config validate {name}.yaml --dry-run   # builds it, one step\n"
              f"#   bigmodel train {name}.yaml\n"
              f"# `bigmodel config show {name}.yaml` prints every setting with its default.\n")
    return header + align_comments(rows)


def infer_source(dataset: str | None) -> str:
    if dataset is None or dataset in sklearn_source.DATASETS:
        return "sklearn"
    return "keras" if dataset in keras_source.DATASETS else "tfds"


def _check_dataset(source: str, dataset: str | None, family: str) -> str | None:
    """The input kind when it is known without the data; refuses a family that can't read it."""
    if source == "synthetic":
        return SYNTHETIC_KINDS[family]
    if source == "sklearn":
        if dataset not in sklearn_source.DATASETS:
            raise UsageError("--dataset: " + unknown_name(
                "scikit-learn dataset", dataset, sklearn_source.DATASETS))
        kind = SKLEARN_SHAPES.get(dataset, (None,))[0]
    elif source == "keras":
        if dataset not in keras_source.DATASETS:
            raise UsageError("--dataset: " + unknown_name(
                "keras dataset", dataset, keras_source.DATASETS))
        kind = keras_source.DATASETS[dataset].kind
    else:
        return None  # tfds: known only once the dataset is there
    if (family, kind) in UNSUPPORTED:
        raise UsageError(f"--family {family} cannot read the {kind} inputs of '{dataset}'; "
                         f"use --family {UNSUPPORTED[family, kind]}")
    return kind


def _data_rows(source: str, dataset: str | None, kind: str | None) -> list:
    values: dict = {"source": source}
    if source == "synthetic":
        values |= {"kind": kind, "num_classes": UNSET, "num_examples": UNSET}
    else:
        values["name"] = dataset
    if kind in ("tokens", "text") or source == "tfds":
        values |= {"vocab_size": 10_000, "sequence_length": 256}
    values |= {"batch_size": UNSET, "validation_split": UNSET, "test_split": UNSET}
    if source == "tfds":
        values["data_dir"] = UNSET
    return _section("data", schema.DataConfig, values)


def _model_rows(family: str) -> list:
    model_class = MODEL_CLASSES[family]
    own = [key for key in model_class.model_fields if key not in schema.ModelBase.model_fields]
    shared = list(schema.ModelBase.model_fields)
    return _section("model", model_class, dict.fromkeys(own + shared, UNSET) | {"family": family})


def _section(name: str, model_class, values: dict) -> list:
    rows = [(f"{name}:", None)]
    for key, value in values.items():
        field = model_class.model_fields[key]
        if value is UNSET:
            value = field.default
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json")
        rows.append((f"  {key}: {flow(value)}", COMMENTS.get((name, key)) or _comment(field)))
    return rows


def _comment(field) -> str | None:
    choices = _choices(field.annotation)
    if field.description and choices:
        return f"{choices}; {field.description}"
    return field.description or choices


def _choices(annotation) -> str | None:
    if typing.get_origin(annotation) is typing.Literal:
        options = typing.get_args(annotation)
        return " | ".join(str(option) for option in options) if len(options) > 1 else None
    return None
