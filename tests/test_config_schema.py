"""The JSON Schema for editors: configs/schema.json is current, every config points at it and
validates against it.

The `jsonschema` package is not a dependency, so `schema_errors` checks the keywords pydantic
emits (a small subset of draft 2020-12); a test proves it rejects real mistakes.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml
from cli_runner import CONFIGS, SHIPPED_CONFIGS, bigmodel

from bigmodel_cli import config

SCHEMA_FILE = CONFIGS / "schema.json"
REGENERATE = "run `bigmodel config schema > configs/schema.json` and commit the result"
SHIPPED = SHIPPED_CONFIGS
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
         "integer": int, "number": (int, float)}


def schema_errors(value, schema: dict, root: dict, path: str = "") -> list[str]:
    """Mistakes in `value` against a JSON Schema node (the keywords pydantic writes)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, root, path)
    errors: list[str] = []
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            results = [schema_errors(value, branch, root, path) for branch in schema[keyword]]
            passing = results.count([])
            if passing == 0 or (keyword == "oneOf" and passing > 1):
                closest = min(results, key=len)  # the branch the value nearly matches
                errors += [f"{path}: matches {passing} of the {keyword} branches", *closest]
    if "type" in schema:
        expected = TYPES[schema["type"]]
        if not isinstance(value, expected) or (
                isinstance(value, bool) and schema["type"] in ("integer", "number")):
            return errors + [f"{path}: expected {schema['type']}, got {value!r}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    errors += _bounds(value, schema, path)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, path)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{path}.{index}")
    if "if" in schema:
        branch = "else" if schema_errors(value, schema["if"], root, path) else "then"
        errors += schema_errors(value, schema.get(branch, {}), root, path)
    return errors


def _bounds(value, schema: dict, path: str) -> list[str]:
    checks = {"minimum": lambda v, b: v >= b, "maximum": lambda v, b: v <= b,
              "exclusiveMinimum": lambda v, b: v > b, "exclusiveMaximum": lambda v, b: v < b,
              "minItems": lambda v, b: len(v) >= b, "maxItems": lambda v, b: len(v) <= b,
              "minLength": lambda v, b: len(v) >= b, "maxLength": lambda v, b: len(v) <= b,
              "pattern": lambda v, b: re.search(b, v)}
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return [f"{path}: fails {keyword} {schema[keyword]}" for keyword, check in checks.items()
            if keyword in schema and (numeric or isinstance(value, (list, str)))
            and not check(value, schema[keyword])]


def _object_errors(value: dict, schema: dict, root: dict, path: str) -> list[str]:
    errors = [f"{path}: missing {key}" for key in schema.get("required", []) if key not in value]
    properties = schema.get("properties", {})
    for key, item in value.items():
        if key in properties:
            errors += schema_errors(item, properties[key], root, f"{path}.{key}")
        elif schema.get("additionalProperties") is False:
            errors.append(f"{path}: unknown key {key}")
    return errors


def test_schema_file_is_current():
    current = json.dumps(config.json_schema(), indent=2) + "\n"
    assert SCHEMA_FILE.read_text() == current, f"configs/schema.json is out of date: {REGENERATE}"


def test_schema_command_prints_the_schema():
    result = bigmodel("config", "schema")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == config.json_schema()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_config_points_at_the_schema_and_validates_against_it(path):
    relative = os.path.relpath(SCHEMA_FILE, path.parent)
    assert f"# yaml-language-server: $schema={relative}" in path.read_text().splitlines()[:2]
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema_errors(yaml.safe_load(path.read_text()), schema, schema) == []
    config.load(path)


@pytest.mark.parametrize("text, mistake", [
    ("data: {source: synthetic}\nmodel: {family: cnn, filtres: [8]}\n", "unknown key filtres"),
    ("data: {source: kaggle}\nmodel: {family: mlp}\n", "data: matches 0 of the oneOf"),
    ("data: {source: synthetic, batch_size: 0}\nmodel: {family: mlp}\n", "exclusiveMinimum 0"),
    ("data: {source: synthetic}\nmodel: {family: mlp}\ntraining: {epochs: ten}\n",
     "expected integer"),
    ("data: {source: synthetic}\nmodel: {family: cnm}\n", "oneOf"),
    ("data: {source: synthetic}\n", "missing model"),
    ("name: a b\ndata: {source: synthetic}\nmodel: {family: mlp}\n", "fails pattern"),
])
def test_the_json_schema_rejects_mistakes(text, mistake):
    schema = config.json_schema()
    errors = schema_errors(yaml.safe_load(text), schema, schema)
    assert any(mistake in error for error in errors), errors


def test_a_file_with_a_base_needs_no_sections():
    schema = config.json_schema()
    assert schema_errors({"base": "parent.yaml", "seed": 3}, schema, schema) == []
    assert schema_errors({"base": 3}, schema, schema) != []
