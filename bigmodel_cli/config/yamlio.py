"""Safe YAML reading that remembers where every value came from.

PyYAML's `safe_load` forgets positions and silently keeps the last of two duplicate keys. This
reader walks the composed node tree itself, so each value keeps its `file:line:column` (used by
config errors and `config show --origin`) and a duplicate key is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

# Dotted-key path (a tuple of keys and list indices) -> "file:line:column" or "--set key=value".
Origins = dict[tuple, str]

# Plain data only: any other tag (!!python/object, !!binary, custom ones) is refused.
_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}"
               for name in ("null", "bool", "int", "float", "str", "seq", "map")}
# A real config has a few hundred values; far more means aliases multiplying a collection.
MAX_VALUES = 100_000


def read_yaml(path: Path) -> tuple[Any, Origins]:
    """Parse a YAML file into plain Python values and the origin of each value."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> tuple[Any, Origins]:
    """Parse YAML text; `source` names the text in error messages and origins."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        builder = _Builder(loader, source)
        value = builder.build(node, ())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = error.problem or error.context or "invalid YAML"
        context = error.context_mark
        if error.problem and error.context and context and context is not mark:
            # Where the unfinished thing began, e.g. the '[' of a list that never closes.
            problem += (f" ({error.context} started at line {context.line + 1}, "
                        f"column {context.column + 1})")
        if "'\\t'" in problem:
            problem += "; indent with spaces, YAML does not allow tabs there"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: invalid YAML: {error}") from None
    finally:
        loader.dispose()
    return value, builder.origins


def where(node: yaml.Node, source: str) -> str:
    return f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


class _Builder:
    """Turns composed nodes into plain values, recording the origin of each one."""

    def __init__(self, loader, source: str):
        self.loader = loader
        self.source = source
        self.origins: Origins = {}
        self.values_built = 0
        self.open_nodes: set[int] = set()  # collections being built: an alias to one is a loop

    def build(self, node: yaml.Node, path: tuple) -> Any:
        if node.tag not in _PLAIN_TAGS:
            raise self.error(node, f"YAML tag '{node.tag}' is not allowed; "
                                   "configs hold plain values only (no Python objects)")
        self.values_built += 1
        if self.values_built > MAX_VALUES:
            # Aliases can repeat a collection exponentially often ("billion laughs").
            raise self.error(node, f"more than {MAX_VALUES:,} values; "
                                   "is an alias (*name) repeating a large collection?")
        self.origins[path] = where(node, self.source)
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node)
        if id(node) in self.open_nodes:
            raise self.error(node, "an alias refers to the collection that contains it")
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.build_mapping(node, path)
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        finally:
            self.open_nodes.discard(id(node))

    def build_mapping(self, node: yaml.MappingNode, path: tuple) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.error(key_node, "YAML merge keys ('<<') are not supported; "
                                           "use 'base: other.yaml' to inherit from another config")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                raise self.error(key_node, "a key must be a plain name, not a list or mapping")
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                # `3:`, `null:` or `on:` (YAML 1.1 reads it as true): never a config key.
                raise self.error(key_node, f"{dotted(path + (key_node.value,))}: this key reads "
                                           f"as {type(key).__name__} {key!r}, but keys are "
                                           "names; quote it if you meant the name")
            if key in result:
                first = self.origins[path + (key,)]
                raise self.error(key_node, f"{dotted(path + (key,))}: duplicate key (first set "
                                           f"at {first}); keep only one")
            result[key] = self.build(value_node, path + (key,))
            if isinstance(value_node, yaml.CollectionNode) and not value_node.flow_style:
                # A block section starts on the next line; its key is where a reader looks.
                self.origins[path + (key,)] = where(key_node, self.source)
        return result

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(printable(f"{where(node, self.source)}: {message}"))


def printable(text: str) -> str:
    """Escape line breaks and other control characters: an error must stay one line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def dotted(path: tuple) -> str:
    """('model', 'filters', 0) -> 'model.filters.0'."""
    return ".".join(str(part) for part in path)


def flow(value: Any) -> str:
    """One value as YAML on one line: `0.001`, `[32, 64]`, `{patience: 3}`, `'yes'`."""
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"), allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


def align_comments(rows: list[tuple[str, str | None]]) -> str:
    """Lines of YAML with their `# comment` (or None) lined up in one column."""
    width = max((len(text) for text, comment in rows if comment), default=0)
    return "".join(f"{text.ljust(width)}  # {comment}\n" if comment else f"{text}\n"
                   for text, comment in rows)


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
