"""One config from several sources: `base:` files it inherits from, and `${env:NAME}` values.

`base: other.yaml` (or a list of files) names parent configs, relative to the child's folder.
Parents merge in order, later ones winning, and the child wins over all: mappings merge key
by key, while lists and plain values are replaced whole. Every value keeps the origin of the
file it came from, so an error in an inherited value points into the parent file.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .yamlio import Origins, dotted, printable, read_yaml

BASE_KEY = "base"
# When a child changes one of these, its section replaces the parent's instead of merging:
# the keys of one model family (or schedule) mean nothing to another.
REPLACED_WHEN_CHANGED = {("model",): "family", ("optimizer", "schedule"): "name"}
# `${...}` anywhere in a string; only `${env:NAME}` and `${env:NAME,default}` are known.
REFERENCE = re.compile(r"\$\{([^{}]*)\}")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_config(path: Path, environment: Mapping[str, str] | None = None) -> tuple[dict, Origins]:
    """The merged mapping of a config file and all its bases, with the origin of every value."""
    return _read(Path(path), (), os.environ if environment is None else environment)


def _read(path: Path, chain: tuple[tuple[Path, str], ...], environment) -> tuple[dict, Origins]:
    raw, origins = read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origins.get((), path)}: a config must be a mapping of sections, "
                          f"got {type(raw).__name__}")
    raw = substitute(raw, (), origins, str(path), environment)
    if BASE_KEY not in raw:
        return raw, origins
    parents = _base_paths(raw.pop(BASE_KEY), origins, path)
    _drop_origins(origins, (BASE_KEY,))
    chain = chain + ((path.resolve(), str(path)),)
    merged: dict = {}
    merged_origins: Origins = {}
    for parent_path, where in parents:
        if parent_path.resolve() in [seen for seen, _ in chain]:
            names = " -> ".join([name for _, name in chain] + [str(parent_path)])
            raise ConfigError(f"{where}: base: cycle {names}; remove one of these base entries")
        parent, parent_origins = _read(parent_path, chain, environment)
        merge_into(merged, merged_origins, parent, parent_origins)
    # The name is never inherited: it names the run directory, one per config file.
    merged.pop("name", None)
    _drop_origins(merged_origins, ("name",))
    merge_into(merged, merged_origins, raw, origins)
    merged_origins[()] = origins[()]
    return merged, merged_origins


def _base_paths(entries: Any, origins: Origins, child: Path) -> list[tuple[Path, str]]:
    """(parent path, where its base entry is written) for each entry, checked to exist."""
    where = origins.get((BASE_KEY,), str(child))
    listed = entries if isinstance(entries, list) else [entries]
    parents = []
    for index, entry in enumerate(listed):
        entry_where = origins.get((BASE_KEY, index), where) if isinstance(entries, list) else where
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(f"{entry_where}: base: expected a file name or a list of file "
                              f"names, got {entry!r}")
        parent = Path(os.path.normpath(child.parent / entry))
        if not parent.is_file():
            # printable: a file name may hold a line break, and the error must stay one line.
            raise ConfigError(f"{entry_where}: base: file not found: {printable(str(parent))} "
                              f"(base paths are relative to the folder of {child})")
        parents.append((parent, entry_where))
    return parents


def merge_into(target: dict, origins: Origins, source: dict, source_origins: Origins,
               path: tuple = ()) -> None:
    """Merge `source` into `target` (source wins), moving the origins of what it sets."""
    for key, value in source.items():
        key_path = path + (key,)
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict) \
                and not _replaces(key_path, current, value):
            if key_path in source_origins:
                origins[key_path] = source_origins[key_path]
            merge_into(current, origins, value, source_origins, key_path)
            continue
        _drop_origins(origins, key_path)
        target[key] = copy.deepcopy(value)
        origins.update({inner: where for inner, where in source_origins.items()
                        if inner[:len(key_path)] == key_path})


def _replaces(path: tuple, current: dict, value: dict) -> bool:
    discriminator = REPLACED_WHEN_CHANGED.get(path)
    return discriminator in value and value[discriminator] != current.get(discriminator)


def _drop_origins(origins: Origins, path: tuple) -> None:
    for inner in [inner for inner in origins if inner[:len(path)] == path]:
        del origins[inner]


# --- --set overrides -----------------------------------------------------------------------

def apply_override(raw: dict, origins: Origins, override: str) -> None:
    """Apply one `dotted.key=value`; the value is parsed as YAML (`3e-4`, `[64, 64]`, `null`).

    A number indexes a list (`model.filters.0=16`); missing sections are created.
    """
    key, separator, text = override.partition("=")
    key = key.strip()
    where = f"--set {override}"
    if not separator or not key:
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE, e.g. "
                          "--set optimizer.learning_rate=3e-4")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"{where}: cannot parse the value {text!r} as YAML; "
                          "quote strings and write lists as [a, b]") from None
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"{where}: empty part in the key {key!r}; "
                          "write dotted keys like training.epochs")
    value = substitute(value, tuple(parts), {}, where, os.environ)
    node: Any = raw
    path: tuple = ()
    for part in parts:
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{where}: '{dotted(path)}' is a list of {len(node)}; "
                                  f"index it with 0 to {len(node) - 1}")
            part = int(part)
        elif not isinstance(node, dict):
            raise ConfigError(f"{where}: '{dotted(path)}' is a value, not a section")
        path += (part,)
        if len(path) == len(parts):
            node[part] = value
        elif (node.get(part) if isinstance(node, dict) else node[part]) is None:
            node[part] = {}
            origins[path] = where
        node = node[part]
    _drop_origins(origins, path)
    # Every value inside a set mapping or list comes from the override too.
    origins.update({path + inner: where for inner in _value_paths(value)})


def _value_paths(value: Any, path: tuple = ()):
    yield path
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from _value_paths(item, path + (key,))


# --- ${env:NAME} references ---------------------------------------------------------------

def substitute(value: Any, path: tuple, origins: Origins, source: str,
               environment: Mapping[str, str]) -> Any:
    """Expand the references in every string value (keys are left alone)."""
    if isinstance(value, dict):
        return {key: substitute(item, path + (key,), origins, source, environment)
                for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, path + (index,), origins, source, environment)
                for index, item in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        where = printable(f"{origins.get(path, source)}: {dotted(path)}")
        return expand(value, where, environment)
    return value


def expand(text: str, where: str, environment: Mapping[str, str]) -> Any:
    """Replace each `${env:NAME}` / `${env:NAME,default}` in `text`.

    A value that is one reference and nothing else is read as YAML, like a `--set` value,
    so `batch_size: ${env:BATCH,32}` gives a number. `where` prefixes error messages.
    """
    if "${" in REFERENCE.sub("", text):
        raise ConfigError(f"{where}: unclosed '${{' in {text!r}; write ${{env:NAME}} "
                          "or ${env:NAME,default}")

    def replace(match: re.Match) -> str:
        reference = printable(match.group(0))
        kind, colon, rest = match.group(1).partition(":")
        if kind.strip() != "env" or not colon:
            raise ConfigError(f"{where}: unknown reference '{reference}'; write "
                              f"${{env:{printable(match.group(1)) or 'NAME'}}} for an "
                              "environment variable")
        name, comma, default = rest.partition(",")
        name = name.strip()
        if not VARIABLE_NAME.fullmatch(name):
            raise ConfigError(f"{where}: '{reference}': {name!r} is not an environment "
                              "variable name (letters, digits and _)")
        if name in environment:
            return environment[name]
        if comma:
            return default
        raise ConfigError(f"{where}: environment variable {name} is not set; set it or give "
                          f"a default: ${{env:{name},default}}")

    expanded = REFERENCE.sub(replace, text)
    if not REFERENCE.fullmatch(text):
        return expanded
    try:
        return yaml.safe_load(expanded) if expanded.strip() else None
    except yaml.YAMLError:
        return expanded
