"""Safe YAML reading that remembers where every value came from.

PyYAML's `safe_load` forgets positions and silently keeps the last of two duplicate keys. This
reader walks the composed node tree itself, so each value keeps its `file:line:column` (used by
config errors and `config show --origin`) and a duplicate key is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

# Dotted-key path (a tuple of keys and list indices) -> "file:line:column" or "--set key=value".
Origins = dict[tuple, str]

# Plain data only: any other tag (!!python/object, !!binary, custom ones) is refused.
_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}"
               for name in ("null", "bool", "int", "float", "str", "seq", "map")}


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
        origins: Origins = {}
        value = _build(node, (), loader, source, origins)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = error.problem or error.context or "invalid YAML"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: invalid YAML: {error}") from None
    finally:
        loader.dispose()
    return value, origins


def _where(node: yaml.Node, source: str) -> str:
    return f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _build(node: yaml.Node, path: tuple, loader, source: str, origins: Origins) -> Any:
    if node.tag not in _PLAIN_TAGS:
        raise ConfigError(
            f"{_where(node, source)}: YAML tag '{node.tag}' is not allowed; "
            "configs hold plain values only (no Python objects)"
        )
    origins[path] = _where(node, source)
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if key == "<<":
                raise ConfigError(
                    f"{_where(key_node, source)}: YAML merge keys ('<<') are not supported; "
                    "use 'base: other.yaml' to inherit from another config"
                )
            if key in result:
                first = origins[path + (key,)]
                raise ConfigError(
                    f"{_where(key_node, source)}: duplicate key '{_dotted(path + (key,))}' "
                    f"(first set at {first}); keep only one"
                )
            result[key] = _build(value_node, path + (key,), loader, source, origins)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, path + (index,), loader, source, origins)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node)


def _dotted(path: tuple) -> str:
    return ".".join(str(part) for part in path)


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
