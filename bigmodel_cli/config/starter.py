"""`bigmodel init`: a commented starter config for a model family and a dataset.

Values and comments come from the schema itself (defaults, descriptions, allowed values), so
the starter always validates and never drifts from what `config show` prints.
"""

from __future__ import annotations

import typing

from ..data import keras_source, sklearn_source
from ..data.spec import IMAGE, TABLE, TEXT, TOKENS, VECTOR
from ..errors import UsageError, did_you_mean, unknown_name
from ..names import DATA_SOURCES, MODEL_FAMILIES
from ..train.dryrun import SKLEARN_SHAPES
from . import schema
from .yamlio import align_comments, flow

DEFAULT_FAMILY = "cnn"
DEFAULT_DATASETS = {"sklearn": "digits", "keras": "mnist", "tfds": "mnist"}
SYNTHETIC_KINDS = {"mlp": VECTOR, "cnn": IMAGE, "rnn": TOKENS, "transformer": TEXT,
                   "pretrained": TEXT,
                   "gpt": TOKENS}  # per family (gpt: refused, it reads a text corpus only)
# The input kind of each file source (an npz archive may hold any), and the placeholders the
# user replaces: (key, value, what to fill in).
FILE_KINDS = {"image_folder": IMAGE, "text_folder": TEXT, "csv": TABLE, "npz": None,
              "text_corpus": TOKENS}
PLACEHOLDERS = {
    "image_folder": [("path", "path/to/images", "fill in: a folder with one sub-folder of "
                                                "images per class")],
    "text_folder": [("path", "path/to/texts", "fill in: a folder with one sub-folder of text "
                                              "files per class")],
    "csv": [("path", "path/to/data.csv", "fill in: a CSV file, a folder of them or a glob"),
            ("label_column", "label", "fill in: the column to predict")],
    "npz": [("path", "path/to/data.npz", "fill in: an .npz archive with arrays x and y")],
    "text_corpus": [("path", "path/to/corpus.txt", "fill in: a text file, a folder of them "
                                                   "or a glob")],
}
# The language-model pair: each reads only the other (models/gpt.py, data/text_corpus.py).
LANGUAGE_MODEL = ("gpt", "text_corpus")
# Families that cannot read an input kind, and what to use instead.
UNSUPPORTED = {("cnn", VECTOR): "mlp", ("cnn", TABLE): "mlp",
               **{("pretrained", kind): "mlp" for kind in (VECTOR, TABLE)},
               **{("pretrained", kind): "cnn" for kind in (IMAGE,)},
               ("pretrained", TOKENS): "transformer"}
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
    """The YAML text of a starter config; raises UsageError for a combination that can't work.

    Without a family: cnn, or mlp for inputs a cnn cannot read (vectors, tables, any npz).
    """
    if family is not None and family not in MODEL_FAMILIES:
        raise UsageError("--family: " + unknown_name("model family", family, MODEL_FAMILIES))
    if family == "pretrained" and not (source or dataset):
        source = "text_folder"  # a pretrained model reads text: your own folder of it
    source = source or (LANGUAGE_MODEL[1] if family == LANGUAGE_MODEL[0] and not dataset
                        else infer_source(dataset))
    if source not in DATA_SOURCES:
        raise UsageError("--source: " + unknown_name("data source", source, DATA_SOURCES))
    if source in ("synthetic", *FILE_KINDS) and dataset:
        raise UsageError(f"--dataset {dataset}: {source} data has no name; drop --dataset "
                         "or pick another --source")
    dataset = dataset or DEFAULT_DATASETS.get(source)
    family = family or _default_family(source, dataset)
    kind = _check_dataset(source, dataset, family)
    label = dataset or (kind if source == "synthetic" else source)
    name = f"{family}_{label}".replace("/", "_").replace(":", "_")
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
              + ("# Replace the values marked `fill in` with your data's.\n"
                 if source in PLACEHOLDERS else "")
              + f"# Save it as {name}.yaml, then:\n"
              f"#   bigmodel config validate {name}.yaml --dry-run   # builds it, one step\n"
              f"#   bigmodel train {name}.yaml\n"
              f"# `bigmodel config show {name}.yaml` prints every setting with its default.\n")
    return header + align_comments(rows)


def infer_source(dataset: str | None) -> str:
    """sklearn or keras for their names; tfds for any other, unless it looks like a typo."""
    if dataset is None or dataset in sklearn_source.DATASETS:
        return "sklearn"
    if dataset in keras_source.DATASETS:
        return "keras"
    hint = did_you_mean(dataset, [*sklearn_source.DATASETS, *keras_source.DATASETS])
    if hint:
        raise UsageError(f"--dataset: unknown dataset '{dataset}'{hint} (for the tfds dataset "
                         f"of that name, add --source tfds)")
    return "tfds"


def _default_family(source: str, dataset: str | None) -> str:
    if source == LANGUAGE_MODEL[1]:
        return LANGUAGE_MODEL[0]
    kind = _input_kind(source, dataset, DEFAULT_FAMILY)
    if kind is None and source in FILE_KINDS:
        return "mlp"  # an npz archive may hold any kind of input; an mlp reads them all
    return UNSUPPORTED.get((DEFAULT_FAMILY, kind), DEFAULT_FAMILY)


def _check_dataset(source: str, dataset: str | None, family: str) -> str | None:
    """The input kind when it is known without the data; refuses a family that can't read it."""
    kind = _input_kind(source, dataset, family)
    if (family == LANGUAGE_MODEL[0]) != (source == LANGUAGE_MODEL[1]):
        raise UsageError(f"--family {family} with --source {source}: a language model is "
                         f"--family {LANGUAGE_MODEL[0]} --source {LANGUAGE_MODEL[1]}, and "
                         "each reads only the other")
    if (family, kind) in UNSUPPORTED:
        what = f"'{dataset}'" if dataset else f"{source} data"
        raise UsageError(f"--family {family} cannot read the {kind} inputs of {what}; "
                         f"use --family {UNSUPPORTED[family, kind]}")
    return kind


def _input_kind(source: str, dataset: str | None, family: str) -> str | None:
    if source == "synthetic":
        return SYNTHETIC_KINDS[family]
    if source in FILE_KINDS:
        return FILE_KINDS[source]
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
    return kind


def _data_rows(source: str, dataset: str | None, kind: str | None) -> list:
    values: dict = {"source": source}
    comments: dict = {}
    if source == "synthetic":
        values |= {"kind": kind, "num_classes": UNSET, "num_examples": UNSET}
    elif source in PLACEHOLDERS:
        for key, value, comment in PLACEHOLDERS[source]:
            values[key], comments[key] = value, comment
    else:
        values["name"] = dataset
    if source == "image_folder":
        values["image_size"] = UNSET
    if source == LANGUAGE_MODEL[1]:
        values |= {"tokenizer": UNSET, "context_length": UNSET}
    elif kind in ("tokens", "text") or source in ("tfds", "csv", "npz"):
        values |= {"vocab_size": 10_000, "sequence_length": 256}
    values |= {"batch_size": UNSET, "validation_split": UNSET, "test_split": UNSET}
    if source == "tfds":
        values["data_dir"] = UNSET
    return _section("data", schema.DATA_CLASSES[source], values, comments)


def _model_rows(family: str) -> list:
    model_class = schema.MODEL_CLASSES[family]
    own = [key for key in model_class.model_fields if key not in schema.ModelBase.model_fields]
    shared = [key for key in schema.ModelBase.model_fields if key in model_class.model_fields]
    values = dict.fromkeys(own + shared, UNSET) | {"family": family}
    comments = {}
    if family == "pretrained":  # the one required model key
        values["preset"] = "path/to/preset"
        comments["preset"] = f"fill in: {schema.PRESET_HELP}"
    return _section("model", model_class, values, comments)


def _section(name: str, model_class, values: dict, comments: dict | None = None) -> list:
    rows = [(f"{name}:", None)]
    for key, value in values.items():
        field = model_class.model_fields[key]
        if value is UNSET:
            value = field.default
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json")
        comment = (comments or {}).get(key) or COMMENTS.get((name, key)) or _comment(field)
        rows.append((f"  {key}: {flow(value)}", comment))
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
