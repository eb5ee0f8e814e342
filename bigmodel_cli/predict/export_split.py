"""The numeric part of a model, for formats that cannot carry string preprocessing.

ONNX has no string ops that tf2onnx can convert (tensorflow-onnx issue 1886), and LiteRT files
with them cannot run without the Flex delegate, which pip TensorFlow no longer ships. So the
model is cut where strings end: every layer that reads a string tensor and writes a number
(TextVectorization, StringLookup) becomes an input of the numeric part. Numeric raw inputs (a
table's number columns) stay inputs as they are. The cut layers' own configs and vocabularies
are written beside the artifact, so a client can rebuild exactly what they compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Split:
    numeric: object  # keras.Model: numbers in, the model's output out
    preprocess: object | None  # keras.Model: raw inputs in, the numeric part's inputs out
    cut_layers: list  # the layers cut off, one per new input, in the numeric model's order
    raw_inputs: list[str]  # raw numeric inputs kept as they are


def is_string(tensor) -> bool:
    return "string" in str(tensor.dtype)


def string_boundary(model) -> list:
    """Layers that take a string tensor and give a numeric one, in the model's layer order."""
    cut = []
    for layer in model.layers:
        if not getattr(layer, "_inbound_nodes", None):
            continue
        node = layer._inbound_nodes[0]
        takes_string = any(is_string(tensor) for tensor in node.input_tensors)
        gives_string = any(is_string(tensor) for tensor in node.output_tensors)
        if takes_string and not gives_string:
            cut.append(layer)
    return cut


def has_strings(model) -> bool:
    return any(is_string(tensor) for tensor in model.inputs)


def split(model) -> Split:
    """The numeric part of `model` and the preprocessing it needs, or the model itself."""
    import keras

    if not has_strings(model):
        return Split(model, None, [], [])
    cut = string_boundary(model)
    kept = [tensor for tensor in model.inputs if not is_string(tensor)]
    numeric_inputs = [layer.output for layer in cut] + kept
    numeric = keras.Model(numeric_inputs, model.outputs, name=f"{model.name}_numeric")
    preprocess = keras.Model(model.inputs, [layer.output for layer in cut] + kept,
                             name=f"{model.name}_preprocess")
    return Split(numeric, preprocess, cut, [_input_name(tensor) for tensor in kept])


def numeric_names(part: Split) -> list[str]:
    """Input names of the numeric part: `<layer>_ids` (or `_encoded`, for one-hot or counts)
    for each cut layer, then the raw numeric inputs."""
    return [f"{layer.name}_{'ids' if 'int' in str(layer.output.dtype) else 'encoded'}"
            for layer in part.cut_layers] + part.raw_inputs


def numeric_batch(part: Split, raw_batch) -> dict[str, np.ndarray]:
    """The numeric part's inputs for a raw batch, computed by the cut layers themselves."""
    if part.preprocess is None:
        return raw_batch
    values = part.preprocess(raw_batch, training=False)
    values = values if isinstance(values, (list, tuple)) else [values]
    return {name: np.asarray(value)
            for name, value in zip(numeric_names(part), values, strict=True)}


def write_assets(part: Split, folder: Path) -> list[dict]:
    """Each cut layer's vocabulary file and config: how to make the numeric part's inputs."""
    from .. import atomic

    described = []
    for layer, name in zip(part.cut_layers, numeric_names(part), strict=False):
        node = layer._inbound_nodes[0]
        source = node.input_tensors[0]
        config = {key: value for key, value in layer.get_config().items()
                  if key not in ("vocabulary", "dtype", "trainable", "name")}
        entry = {"input": name, "made_from": _input_name(source), "layer": type(layer).__name__,
                 "layer_config": _plain(config),
                 "output": {"shape": list(layer.output.shape), "dtype": str(layer.output.dtype)}}
        if hasattr(layer, "get_vocabulary"):
            vocabulary = folder / "assets" / f"{layer.name}_vocabulary.txt"
            # One entry per line, index = line number; special tokens included as the layer
            # counts them (padding '' and '[UNK]' first for TextVectorization).
            atomic.write_text(vocabulary, "".join(f"{word}\n" for word in
                                                  layer.get_vocabulary()))
            entry["vocabulary"] = str(vocabulary.relative_to(folder))
        described.append(entry)
    return described


def _input_name(tensor) -> str:
    # Keras names an Input's tensor after its layer; clones may add a suffix.
    history = getattr(tensor, "_keras_history", None)
    return history.operation.name if history is not None else tensor.name


def _plain(value):
    """JSON-friendly: tuples to lists, numpy scalars to Python numbers."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
