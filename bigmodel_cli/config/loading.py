"""Load a config: YAML file (+ its bases) + `--set` overrides -> validated `Config`.

Each error line names where the mistake is (`file:line:column`, or the `--set` that caused it),
the dotted key, and how to fix it. All errors of a file are reported together. Composition
(`base:` and `${env:NAME}`) lives in `compose.py`; checks that need more than the schema
(monitors, optimizer arguments, tfds splits) in `checks.py`.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pydantic

from ..errors import ConfigError, did_you_mean, unknown_name
from . import checks, compose
from .schema import DATA_CLASSES, Config
from .schema_data import FORMER_DEFAULTS, SETTINGS_OF_OTHER_SOURCES
from .yamlio import Origins, align_comments, dump_yaml, flow, printable

MAX_REPORTED_ERRORS = 20
# The key each tagged union of the schema is keyed on, and what its values are called.
UNION_KINDS = {"source": "data source", "family": "model family", "name": "schedule"}


def load(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    raw, origins = resolve(path, overrides)
    return validate(raw, origins, str(path))


def resolve(path: str | Path, overrides: Sequence[str] = ()) -> tuple[dict, Origins]:
    """The raw mapping after overrides, before validation, with the origin of every value."""
    path = Path(path)
    raw, origins = compose.read_config(path)
    if "name" not in raw:
        raw["name"] = path.stem
        origins[("name",)] = f"{path} (the file name)"
    for override in overrides:
        compose.apply_override(raw, origins, override)
    return raw, origins


def validate(raw: dict, origins: Origins, source: str, saved: bool = False) -> Config:
    try:
        config = Config.model_validate(copy.deepcopy(raw))
    except pydantic.ValidationError as error:
        _raise(_messages(error.errors(), origins, source))
    _raise([printable(f"{_locate(path, origins, source)}: {'.'.join(map(str, path))}: {message}")
            for path, message in checks.problems(config, saved)])
    return config


def _raise(lines: list[str]) -> None:
    if not lines:
        return
    if len(lines) > MAX_REPORTED_ERRORS:
        hidden = len(lines) - MAX_REPORTED_ERRORS
        lines = lines[:MAX_REPORTED_ERRORS] + [f"... and {hidden} more errors"]
    raise ConfigError("\n".join(lines)) from None


def load_saved(path: str | Path) -> Config:
    """The config.yaml of a run directory. Runs written before `data` was keyed on `source`
    list every data key; those the source does not take, left at their defaults, are dropped.
    A gpt saved before `model.gelu` existed was built with the exact GELU: so it stays, and
    resuming it with today's default (tanh) is reported as the change it is."""
    raw, origins = resolve(path)
    model = raw.get("model")
    if isinstance(model, dict) and model.get("family") == "gpt":
        model.setdefault("gelu", "exact")
    data = raw.get("data")
    data_class = DATA_CLASSES.get(data.get("source")) if isinstance(data, dict) else None
    if data_class is not None:
        for key in [key for key in data if key not in data_class.model_fields]:
            if data[key] == _default_json(key) or data[key] == FORMER_DEFAULTS.get(key, ()):
                del data[key]
    return validate(raw, origins, str(path), saved=True)


def _default_json(key: str):
    value = SETTINGS_OF_OTHER_SOURCES.get(key, object())
    return value.model_dump(mode="json") if isinstance(value, pydantic.BaseModel) else value


def dump(config: Config) -> str:
    """The resolved config as YAML, every default written out."""
    return dump_yaml(config.model_dump(mode="json"))


def dump_with_origins(config: Config, raw: dict, origins: Origins) -> str:
    """The resolved config as YAML, each value followed by `# where it was set`."""
    return align_comments(list(_origin_rows(config.model_dump(mode="json"), (), raw, origins)))


def _origin_rows(values: dict, path: tuple, raw: dict, origins: Origins):
    """(line of YAML, origin or None) for each key; sections open a block, values are flow."""
    indent = "  " * len(path)
    for key, value in values.items():
        key_path = path + (key,)
        if isinstance(value, dict) and value:
            yield f"{indent}{flow(key)}:", None
            yield from _origin_rows(value, key_path, raw, origins)
        else:
            yield f"{indent}{flow(key)}: {flow(value)}", origin_of(key_path, raw, origins)


def origin_of(path: tuple, raw: dict, origins: Origins) -> str:
    """Which file:line or --set gave the value at `path`, or "default"."""
    if path in origins:
        return origins[path]
    for end in range(len(path) - 1, 0, -1):
        # A shorthand the schema expands (`schedule: cosine`) is the origin of what it implies.
        if path[:end] in origins and not isinstance(_value_at(raw, path[:end]), (dict, list)):
            return origins[path[:end]]
    return "default"


def _value_at(raw: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(raw, dict):
            raw = raw.get(part)
        elif isinstance(raw, list) and isinstance(part, int) and part < len(raw):
            raw = raw[part]
        else:
            return None
    return raw


def json_schema() -> dict:
    """The JSON Schema of a config file, for editors (`bigmodel config schema`).

    It describes a file as written: `name` may be left out (it defaults to the file name), and
    a file with `base:` need not repeat the sections its parents already give.
    """
    schema = Config.model_json_schema()
    schema["properties"] = {
        compose.BASE_KEY: {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "config file(s) to inherit from, relative to this file's folder; "
                           "this file's values win",
        },
        **schema["properties"],
    }
    schema["properties"]["name"]["description"] = "run directory runs/<name>; default: the " \
                                                  "file name"
    required = [key for key in schema.pop("required", []) if key != "name"]
    schema["if"] = {"required": [compose.BASE_KEY]}
    schema["else"] = {"required": required}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# --- turning pydantic errors into one located line each ----------------------------------

def _messages(errors: list[dict], origins: Origins, source: str) -> list[str]:
    """One line per mistake; the branches of a union (`'auto' | bool`) share one line."""
    lines: list = []
    branches: dict[tuple, list[dict]] = {}
    for item in errors:
        path, _, branched = _user_path(item["loc"])
        if not branched:
            lines.append(_describe(item, origins, source))
            continue
        if path not in branches:
            branches[path] = []
            lines.append(path)  # a placeholder that keeps the line in order
        branches[path].append(item)
    return [printable(_describe_union(line, branches[line], origins, source))
            if isinstance(line, tuple) else printable(line) for line in lines]


def _describe_union(path: tuple, items: list[dict], origins: Origins, source: str) -> str:
    # "Input should be a valid integer, unable to parse ..." -> "a valid integer"
    options = [item["msg"].removeprefix("Input should be ").split(", ")[0] for item in items]
    message = f"input should be {' or '.join(dict.fromkeys(options))}"
    if not isinstance(items[0].get("input"), (dict, list)):
        message += f" (got {items[0].get('input')!r})"
    return f"{_locate(path, origins, source)}: {'.'.join(map(str, path))}: {message}"


def _describe(item: dict, origins: Origins, source: str) -> str:
    path, model_class, _ = _user_path(item["loc"])
    key = ".".join(str(part) for part in path) or "(top level)"
    kind = item["type"]
    if kind == "extra_forbidden":
        message = _unknown_key(path, model_class)
    elif kind == "union_tag_invalid":
        context = item["ctx"]
        expected = [tag.strip(" '") for tag in context["expected_tags"].split(",")]
        discriminator = context["discriminator"].strip("'")
        message = unknown_name(UNION_KINDS.get(discriminator, discriminator), context["tag"],
                               expected)
        path = path + (discriminator,)
        key = ".".join(str(part) for part in path)
    elif kind == "union_tag_not_found":
        discriminator = item["ctx"]["discriminator"].strip("'")
        message = f"missing '{discriminator}' (which one to use)"
    elif kind == "missing":
        field = model_class.model_fields.get(path[-1]) if model_class and path else None
        message = "required key is missing"
        if field is not None and field.description:
            message += f" ({field.description})"
    elif kind == "value_error":
        message = str(item["ctx"]["error"])
    else:
        message = item["msg"][0].lower() + item["msg"][1:]
        if "input" in item and not isinstance(item["input"], (dict, list)):
            message += f" (got {item['input']!r})"
    return f"{_locate(path, origins, source)}: {key}: {message}"


def _unknown_key(path: tuple, model_class) -> str:
    """A typo gets the closest key; a key of another branch of a union (`x_key` under
    `source: sklearn`) says which branches take it."""
    known = list(model_class.model_fields) if model_class else []
    key = path[-1]
    message = f"unknown key '{key}'{did_you_mean(key, known)}"
    union = _tagged_union(path[:-1])
    if union and model_class is not None:
        discriminator, branches = union
        takers = [tag for tag, branch in branches.items() if key in branch.model_fields]
        if takers:
            where = ".".join(map(str, path[:-1] + (discriminator,)))
            chosen = typing.get_args(model_class.model_fields[discriminator].annotation)[0]
            return (f"'{key}' is not used with {where} {chosen}, only with "
                    f"{' or '.join(takers)}; remove it or change {where}")
    if not did_you_mean(key, known) and known:
        message += f"; known keys here: {', '.join(known)}"
    return message


def _tagged_union(path: tuple) -> tuple[str, dict] | None:
    """(discriminator, {tag: model}) when the value at `path` is a tagged union."""
    annotation: Any = Config
    field = None
    for part in path:
        field = _fields(_models_in(annotation)).get(part) if isinstance(part, str) else None
        if field is None:
            return None
        annotation = field.annotation
    if field is None or not isinstance(field.discriminator, str):
        return None
    branches = {}
    for model in _models_in(annotation):
        tags = typing.get_args(model.model_fields[field.discriminator].annotation)
        branches.update(dict.fromkeys(tags, model))
    return field.discriminator, branches


def _locate(path: tuple, origins: Origins, source: str) -> str:
    """The origin of the nearest enclosing value that the YAML or an override set."""
    for end in range(len(path), -1, -1):
        if path[:end] in origins:
            return origins[path[:end]]
    return source


def _user_path(loc: Iterable) -> tuple[tuple, type | None, bool]:
    """Drop pydantic's union tags from an error location.

    pydantic writes `('model', 'cnn', 'filtres')` for a discriminated union and
    `('training', 'jit_compile', 'bool')` for a branch of a plain union; users wrote
    `model.filtres` and `training.jit_compile`. Returns the path, the model that holds the
    key, and whether the error came from a branch of a plain union.
    """
    path: list = []
    annotation: Any = Config
    holder = None
    branched = False
    for part in loc:
        options = _models_in(annotation)
        if isinstance(part, str) and part not in _fields(options) and _by_tag(options, part):
            holder = _by_tag(options, part)
            annotation = holder
            continue
        if isinstance(part, str) and not options and _is_union(annotation):
            branched = True
            continue
        path.append(part)
        holder = options[0] if len(options) == 1 else holder
        field = _fields(options).get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else _item_type(annotation)
    return tuple(path), holder, branched


def _is_union(annotation) -> bool:
    return isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union


def _models_in(annotation) -> list:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _fields(models: list) -> dict:
    return {name: field for model in models for name, field in model.model_fields.items()}


def _by_tag(models: list, tag: str):
    for model in models:
        for discriminator in UNION_KINDS:
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
