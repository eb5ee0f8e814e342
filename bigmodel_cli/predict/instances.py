"""JSON instances (TensorFlow Serving's REST body) into the batch `bigmodel predict` would make.

An instance is one example of the model's input kind: a number list (nested for images and
arrays of any rank), {"b64": "..."} for encoded image bytes, a string for text models, an
object of column values for CSV models. The values go through predict's own checks and
conversions (predict/inputs.py): the same batch, so the same rows.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from ..data.spec import IMAGE, NUMERIC, TABLE, TEXT, TOKENS, InputSpec
from ..errors import UsageError
from .inputs import _require_finite, _wanted, column_value, stack_examples, table_batch


def request_instances(body, spec: InputSpec, max_instances: int) -> tuple[list, bool]:
    """(instances, columnar?) of a predict body: {"instances": [...]} or {"inputs": ...}."""
    if not isinstance(body, dict) or not ({"instances", "inputs"} & set(body)):
        raise UsageError('the body must be a JSON object with "instances" (a list, one '
                         'example each) or "inputs" (columnar)')
    if "instances" in body and "inputs" in body:
        raise UsageError('give "instances" or "inputs", not both')
    columnar = "inputs" in body
    instances = body["inputs"] if columnar else body["instances"]
    if columnar and isinstance(instances, dict):
        instances = _rows_of_columns(instances, spec.kind == TABLE)
    if not isinstance(instances, list) or not instances:
        raise UsageError(f'"{"inputs" if columnar else "instances"}" must be a non-empty list')
    if len(instances) > max_instances:
        raise UsageError(f"{len(instances)} instances in one request; at most {max_instances} "
                         "(bigmodel serve --max-instances): split the request")
    return instances, columnar


def _rows_of_columns(columns: dict, table: bool) -> list:
    """Columnar inputs {name: [values]} -> one row object per example (a single named input
    {"inputs": [...]} -> its list)."""
    lists = list(columns.values())
    if not all(isinstance(values, list) for values in lists):
        raise UsageError('columnar "inputs" must map each input name to a list of values')
    if len({len(values) for values in lists}) > 1:
        raise UsageError('columnar "inputs" must give every input the same number of values')
    if not table:
        if len(columns) != 1:
            raise UsageError(f"this model has one input; columnar \"inputs\" names "
                             f"{len(columns)}: {', '.join(map(str, columns))}")
        return lists[0]
    return [dict(zip(columns, row, strict=True)) for row in zip(*lists, strict=True)]


def to_batch(instances: list, spec: InputSpec):
    """The model's batch for these instances; a UsageError names the first bad one."""
    if spec.kind == TABLE:
        return table_batch(_columns(instances, spec), spec)
    return stack_examples([_example(item, f"instances[{index}]", spec)
                           for index, item in enumerate(instances)], spec)


def _example(item, where: str, spec: InputSpec) -> np.ndarray:
    if spec.kind == TEXT:
        if not isinstance(item, str):
            raise UsageError(f"{where}: a {type(item).__name__}, but this model takes strings")
        return np.asarray(item, dtype=object)
    if spec.kind == IMAGE and isinstance(item, dict):
        return _image_bytes(item, where, spec)
    if not isinstance(item, list):
        raise UsageError(f"{where}: a {type(item).__name__}, but this model takes "
                         f"{_json_wanted(spec)}")
    try:
        array = np.asarray(item, dtype=np.float64)
    except (ValueError, TypeError):
        raise UsageError(f"{where}: not a list of numbers of shape {tuple(spec.shape)} "
                         "(uneven or non-numeric)") from None
    if array.shape != tuple(spec.shape):
        raise UsageError(f"{where}: shape {array.shape}, but the model takes one example of "
                         f"shape {tuple(spec.shape)}")
    _require_finite(array, where)
    if spec.kind == TOKENS:
        _check_ids(array, where, spec)
    return array


def _check_ids(array: np.ndarray, where: str, spec: InputSpec) -> None:
    if not np.all(array == np.round(array)):
        raise UsageError(f"{where}: token ids must be whole numbers")
    if spec.vocab_size is not None and (array.min() < 0 or array.max() >= spec.vocab_size):
        raise UsageError(f"{where}: token ids must lie in [0, {spec.vocab_size})")


def _image_bytes(item: dict, where: str, spec: InputSpec) -> np.ndarray:
    from ..data.images import decode_bytes, tensorflow_reason

    if set(item) != {"b64"} or not isinstance(item["b64"], str):
        raise UsageError(f'{where}: an image object must be {{"b64": "<base64 bytes>"}}')
    try:
        contents = base64.b64decode(item["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{where}: \"b64\" is not valid base64") from None
    import tensorflow as tf

    try:
        image, damage = decode_bytes(contents, tuple(spec.shape))
    except (tf.errors.OpError, ValueError) as error:
        raise UsageError(f"{where}: cannot read the image ({tensorflow_reason(error)})") from None
    if damage:
        raise UsageError(f"{where}: the image is damaged (the decoder reports: {damage})")
    return image.astype(np.float32)  # pixels stay in [0, 255], as predict gives them


def _columns(instances: list, spec: InputSpec) -> dict[str, list]:
    columns: dict[str, list] = {column.name: [] for column in spec.columns}
    for index, row in enumerate(instances):
        where = f"instances[{index}]"
        if not isinstance(row, dict):
            raise UsageError(f"{where}: a {type(row).__name__}, but this model takes objects "
                             f"of column values ({', '.join(columns)})")
        missing = [name for name in columns if name not in row]
        if missing:
            raise UsageError(f"{where}: no column {', '.join(map(repr, missing))}; this model "
                             f"takes {', '.join(columns)}")
        for column in spec.columns:
            value = row[column.name]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise UsageError(f"{where}: column '{column.name}' holds a "
                                 f"{type(value).__name__}; give a string or a number")
            if column.type == NUMERIC and not isinstance(value, str):
                value = repr(float(value))
            columns[column.name].append(column_value(column, str(value), where))
    return columns


def _json_wanted(spec: InputSpec) -> str:
    if spec.kind == IMAGE:
        return f'nested lists of pixels of shape {tuple(spec.shape)}, or {{"b64": ...}}'
    return f"lists of numbers of shape {tuple(spec.shape)}" if spec.kind != TABLE \
        else _wanted(spec)
