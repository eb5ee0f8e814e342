"""Where a model's inputs are attributed, by input kind, and the baselines each kind takes.

The saved model takes raw inputs, and not all of them can be differentiated:
- images and vectors: the raw numbers themselves (pixels in [0, 255], unscaled features). The
  model's rescaling and normalization are linear, so nothing is lost by attributing before them;
- tokens and text: ids and strings have no gradient, so the point is the output of the model's
  embedding layer (a keras Embedding or bigmodel's TokenAndPositionEmbedding; in a pretrained
  keras-hub backbone, its token embedding), one vector per token, and a token's score is the
  sum over its vector;
- tables: the joined features after each column's preprocessing (normalized numbers, one-hot
  or embedded categories, pooled text), split back into columns afterwards.

A layer's output is replaced for the length of one model call: its `call` is swapped on the
instance, so everything else runs as saved, the padding mask included (computed from the real
ids by the layer's own `compute_mask`). f(baseline) is therefore the model with the baseline's
embeddings under the input's mask: the function integrated gradients actually integrates.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from ..data.spec import CATEGORICAL, IMAGE, TABLE, TEXT, TOKENS, VECTOR, InputSpec
from ..data.tables import input_name
from ..errors import UsageError

BASELINES = {IMAGE: ("black", "zeros", "blur"), VECTOR: ("zeros",), TOKENS: ("pad",),
             TEXT: ("pad",), TABLE: ("zeros",)}
WHAT_BASELINES_MEAN = {
    "black": "all pixels 0", "zeros": "all numbers 0", "blur": "the image blurred",
    "pad": "every token the padding id 0",
}
# The blur baseline: a Gaussian whose width is this fraction of the image's longer side.
BLUR_FRACTION = 1 / 8


def check_baseline(baseline: str, spec: InputSpec) -> str:
    """The baseline to use ("auto": the first the input kind takes), or a UsageError."""
    taken = BASELINES[spec.kind]
    if baseline == "auto":
        return taken[0]
    if baseline not in taken:
        raise UsageError(f"--baseline {baseline}: not for {spec.kind} inputs; use "
                         f"{' or '.join(taken)} (or auto)")
    return baseline


@dataclass
class Prepared:
    point: np.ndarray  # the numbers attributed, for one example
    baseline: np.ndarray  # the same shape
    ids: np.ndarray | None = None  # tokens and text: the token ids the embedding received
    pad_id: int = 0  # tokens and text: the padding id (no token; the "pad" baseline)
    widths: list[int] | None = None  # tables: the width of each preprocessed part


class RawPoint:
    """Images and vectors: the raw input, differentiable as it is."""

    def __init__(self, model, spec: InputSpec):
        self.model, self.spec = model, spec

    def prepare(self, example: np.ndarray, baseline: str) -> Prepared:
        point = np.asarray(example, np.float32)
        if baseline == "blur":
            return Prepared(point, _blurred(point))
        return Prepared(point, np.zeros_like(point))  # black and zeros: raw 0

    def forward(self, example, points):
        return self.model(points, training=False)


class LayerPoint:
    """Tokens, text and tables: the output of one layer inside the model."""

    def __init__(self, model, spec: InputSpec):
        self.model, self.spec = model, spec
        self.layer = _embedding_layer(model) if spec.kind in (TOKENS, TEXT) \
            else _table_features_layer(model, spec)
        self.dtype = None  # of the layer's output (float16 under mixed precision), by prepare
        tokenizer = find_tokenizer(model) if spec.kind == TEXT else None
        # bigmodel's own vocabularies pad with 0; a keras-hub tokenizer says its padding id.
        self.pad_id = int(getattr(tokenizer, "pad_token_id", None) or 0)

    def prepare(self, example, baseline: str) -> Prepared:
        seen = {}
        original = self.layer.call

        def record(inputs, *args, **kwargs):
            seen["inputs"] = inputs
            seen["output"] = original(inputs, *args, **kwargs)
            return seen["output"]

        with _call_replaced(self.layer, record):
            self.model(_repeat(example, 1), training=False)
        point = np.asarray(seen["output"], np.float32)[0]
        self.dtype = seen["output"].dtype
        if self.spec.kind == TABLE:
            parts = seen["inputs"] if isinstance(seen["inputs"], (list, tuple)) else [point[None]]
            # zeros after preprocessing: numeric columns at their training mean, no category,
            # no words.
            return Prepared(point, np.zeros_like(point),
                            widths=[int(part.shape[-1]) for part in parts])
        ids = np.asarray(seen["inputs"])
        pad = self.pad_id
        padded = np.asarray(original(np.full_like(ids, pad)), np.float32)[0]  # every id pad
        return Prepared(point, padded, ids=ids[0], pad_id=pad)

    def forward(self, example, points):
        import tensorflow as tf

        replacement = tf.cast(points, self.dtype)
        with _call_replaced(self.layer, lambda inputs, *args, **kwargs: tf.identity(replacement)):
            return self.model(_repeat(example, len(points)), training=False)


def make_point(model, spec: InputSpec):
    return RawPoint(model, spec) if spec.kind in (IMAGE, VECTOR) else LayerPoint(model, spec)


@contextlib.contextmanager
def _call_replaced(layer, call):
    """`layer.call` is `call` inside the block; Layer.__call__ (masks, dtypes) stays as it is.
    Set on the instance past Keras' attribute tracking, and removed after."""
    object.__setattr__(layer, "call", call)
    try:
        yield
    finally:
        object.__delattr__(layer, "call")


def _repeat(example, count: int):
    if isinstance(example, dict):
        return {name: np.repeat(np.asarray(value)[None], count, axis=0)
                for name, value in example.items()}
    return np.repeat(np.asarray(example)[None], count, axis=0)


def _embedding_layer(model):
    """The first embedding of token ids in the model (its layers are in graph order), else
    the token embedding of a keras-hub backbone inside it (model.family: pretrained)."""
    import keras

    from ..models.layers import TokenAndPositionEmbedding

    for layer in model.layers:
        if isinstance(layer, (keras.layers.Embedding, TokenAndPositionEmbedding)):
            return layer
    for layer in _nested_layers(model):
        found = getattr(layer, "token_embedding", None)  # keras-hub backbones name it so
        if isinstance(found, keras.layers.Layer):
            return found
    raise UsageError(f"model '{model.name}' has no embedding layer to attribute its tokens "
                     "through; explain takes models built by bigmodel train")


def _nested_layers(model):
    import keras

    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _nested_layers(layer)


def find_tokenizer(model):
    """The keras-hub tokenizer of a pretrained text model (its preprocessor layer), or None."""
    for layer in _nested_layers(model):
        tokenizer = getattr(getattr(layer, "preprocessor", None), "tokenizer", None)
        if tokenizer is not None:
            return tokenizer
    return None


def _table_features_layer(model, spec: InputSpec):
    """The layer whose output joins every column's preprocessed features ("columns"), or the
    one column part when a table has a single part (models/preprocessing.py names them)."""
    names = ["columns", "normalize_numeric"]
    for column in spec.columns:
        base = input_name(column.name)
        # A category is one-hot (the lookup's output) or embedded; text is embedded, pooled.
        names += [f"{base}_embedding", f"{base}_lookup"] if column.type == CATEGORICAL \
            else [f"{base}_average"]
    found = {layer.name: layer for layer in model.layers}
    for name in names:
        if name in found:
            return found[name]
    raise UsageError(f"model '{model.name}' has no joined column features to attribute; "
                     "explain takes table models built by bigmodel train")


def _blurred(image: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    sigma = max(image.shape[0], image.shape[1]) * BLUR_FRACTION
    # Blur across height and width only, never across colour channels.
    sigmas = (sigma, sigma) + (0,) * (image.ndim - 2)
    return gaussian_filter(image, sigma=sigmas, mode="nearest").astype(np.float32)
