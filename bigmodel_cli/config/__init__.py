"""Configs: the schema, reading YAML with positions, composition (base, env, --set), validate.

Importing this package never imports TensorFlow: `bigmodel config validate` stays fast.
"""

from .loading import (
    dump,
    dump_with_origins,
    json_schema,
    load,
    load_saved,
    origin_of,
    resolve,
    validate,
)

__all__ = ["dump", "dump_with_origins", "json_schema", "load", "load_saved", "origin_of",
           "resolve", "validate"]
