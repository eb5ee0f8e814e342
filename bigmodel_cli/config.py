"""Load a config: YAML file + `--set` overrides -> validated `Config`, or one error per mistake.

Each error line names where the mistake is (`file:line:column`, or the `--set` that caused it),
the dotted key, and how to fix it. All errors of a file are reported together.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from .errors import ConfigError, did_you_mean, unknown_name
from .schema import Config
from .yamlio import Origins, dump_yaml, read_yaml

MAX_REPORTED_ERRORS = 20


def load(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    raw, origins = resolve(path, overrides)
    return validate(raw, origins, str(path))


def resolve(path: str | Path, overrides: Sequence[str] = ()) -> tuple[dict, Origins]:
    """The raw mapping after overrides, before validation, with the origin of every value."""
    path = Path(path)
    raw, origins = read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1:1: a config must be a mapping of sections, "
                          f"got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    for override in overrides:
        apply_override(raw, origins, override)
    return raw, origins


def apply_override(raw: dict, origins: Origins, override: str) -> None:
    """Apply one `dotted.key=value`; the value is parsed as YAML (`3e-4`, `[64, 64]`, `null`)."""
    key, separator, text = override.partition("=")
    key = key.strip()
    if not separator or not key:
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE, e.g. "
                          "--set optimizer.learning_rate=3e-4")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"--set {override}: cannot parse the value {text!r} as YAML; "
                          "quote strings and write lists as [a, b]") from None
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"--set {override}: '{where}' is a value, not a section")
        node = child
    node[parts[-1]] = value
    path = tuple(parts)
    for existing in [p for p in origins if p[: len(path)] == path]:
        del origins[existing]
    origins[path] = f"--set {override}"


def validate(raw: dict, origins: Origins, source: str) -> Config:
    try:
        return Config.model_validate(copy.deepcopy(raw))
    except pydantic.ValidationError as error:
        lines = [_describe(item, origins, source) for item in error.errors()]
        if len(lines) > MAX_REPORTED_ERRORS:
            hidden = len(lines) - MAX_REPORTED_ERRORS
            lines = lines[:MAX_REPORTED_ERRORS] + [f"... and {hidden} more errors"]
        raise ConfigError("\n".join(lines)) from None


def dump(config: Config) -> str:
    """The resolved config as YAML, every default written out."""
    return dump_yaml(config.model_dump(mode="json"))


# --- turning pydantic errors into one located line each ----------------------------------

def _describe(item: dict, origins: Origins, source: str) -> str:
    path, model_class = _user_path(item["loc"])
    key = ".".join(str(part) for part in path) or "(top level)"
    kind = item["type"]
    if kind == "extra_forbidden":
        known = list(model_class.model_fields) if model_class else []
        message = f"unknown key '{path[-1]}'{did_you_mean(path[-1], known)}"
        if not did_you_mean(path[-1], known) and known:
            message += f"; known keys here: {', '.join(known)}"
    elif kind == "union_tag_invalid":
        context = item["ctx"]
        expected = [tag.strip(" '") for tag in context["expected_tags"].split(",")]
        discriminator = context["discriminator"].strip("'")
        kind = {"family": "model family", "name": "schedule"}.get(discriminator, discriminator)
        message = unknown_name(kind, context["tag"], expected)
        path = path + (discriminator,)
        key = ".".join(str(part) for part in path)
    elif kind == "union_tag_not_found":
        discriminator = item["ctx"]["discriminator"].strip("'")
        message = f"missing '{discriminator}' (which one to use)"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "value_error":
        message = str(item["ctx"]["error"])
    else:
        message = item["msg"][0].lower() + item["msg"][1:]
        if "input" in item and not isinstance(item["input"], (dict, list)):
            message += f" (got {item['input']!r})"
    return f"{_locate(path, origins, source)}: {key}: {message}"


def _locate(path: tuple, origins: Origins, source: str) -> str:
    """The origin of the nearest enclosing value that the YAML or an override set."""
    for end in range(len(path), -1, -1):
        if path[:end] in origins:
            return origins[path[:end]]
    return source


def _user_path(loc: Iterable) -> tuple[tuple, type | None]:
    """Drop pydantic's union tags from an error location; return the model that holds the key.

    pydantic writes `('model', 'cnn', 'filtres')` for a discriminated union; users wrote
    `model.filtres`.
    """
    path: list = []
    annotation: Any = Config
    holder = None
    for part in loc:
        options = _models_in(annotation)
        if isinstance(part, str) and part not in _fields(options) and _by_tag(options, part):
            holder = _by_tag(options, part)
            annotation = holder
            continue
        path.append(part)
        holder = options[0] if len(options) == 1 else holder
        field = _fields(options).get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else _item_type(annotation)
    return tuple(path), holder


def _models_in(annotation) -> list:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _fields(models: list) -> dict:
    return {name: field for model in models for name, field in model.model_fields.items()}


def _by_tag(models: list, tag: str):
    for model in models:
        for discriminator in ("family", "name"):
            field = model.model_fields.get(discriminator)
            if field and typing.get_args(field.annotation) == (tag,):
                return model
    return None


def _item_type(annotation):
    """The element type of list[X] / X | None, so indices inside lists resolve."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return args[0] if args else None
    return args[0] if args else None
