"""Floating-point operations and activation sizes per example, estimated from a model's layers.

Counted: the multiply-adds of matrix products and convolutions (2 FLOPs each), which is what
model-FLOPs utilisation (MFU) counts; element-wise work (activations, norms, softmax) is left
out. Training costs about three forward passes: the backward pass computes gradients for both
the inputs and the weights of each layer, each about as costly as the forward product.
Layers are walked through the functional graph for their shapes; layers built from sublayers
(attention, encoder blocks, Bidirectional) are walked inside, their sublayers seeing the
positions of the outer layer's input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

TRAINING_PASSES = 3  # forward + backward (input gradients + weight gradients)


@dataclass
class Cost:
    """Per example: forward FLOPs and the activation values a training step keeps."""

    forward_flops: int = 0
    activations: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.forward_flops + other.forward_flops,
                    self.activations + other.activations)

    @property
    def training_flops(self) -> int:
        return TRAINING_PASSES * self.forward_flops


def estimate(model: keras.Model) -> Cost:
    """The cost of one example through a built functional model."""
    total = Cost()
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        total += layer_cost(layer, _shape(layer, "input"), _shape(layer, "output"))
    return total


def layer_cost(layer, input_shape: tuple, output_shape: tuple | None) -> Cost:
    """`input_shape` and `output_shape` include the batch axis (None)."""
    positions = _positions(input_shape)
    if _is_pretrained_backbone(layer):
        return _pretrained_backbone(layer, input_shape)
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return _attention(layer, input_shape)
    if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense)):
        # Each input vector meets the whole kernel once. EinsumDense (inside attention) may
        # write several axes per position (heads x key_dim); None marks the sequence axis.
        kernel = math.prod(layer.kernel.shape)
        units = layer.kernel.shape[-1] if isinstance(layer, keras.layers.Dense) else math.prod(
            size for size in layer.partial_output_shape if size is not None)
        return Cost(2 * kernel * positions, units * positions)
    if _is_convolution(layer) and output_shape is not None:
        output_positions = math.prod(output_shape[1:-1])
        return Cost(2 * math.prod(layer.kernel.shape) * output_positions,
                    math.prod(output_shape[1:]))
    if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)):
        return _recurrent(layer, input_shape)
    sublayers = _sublayers(layer)
    # Products a layer computes besides its sublayers' (gpt_layers.py: attention, tied logits).
    own = Cost(layer.extra_cost(input_shape), 0) if hasattr(layer, "extra_cost") else Cost()
    if sublayers:
        return own + sum((layer_cost(sublayer, input_shape, None) for sublayer in sublayers),
                         Cost())
    # Element-wise, pooling, reshaping and embedding lookups: no products, but their outputs
    # are kept for the backward pass.
    return own + Cost(0, math.prod(output_shape[1:]) if _known(output_shape) else 0)


def _attention(layer, input_shape: tuple) -> Cost:
    # Self-attention over the input's positions: projections, then scores and weighted sum.
    projections = sum(
        (layer_cost(sublayer, input_shape, None) for sublayer in _sublayers(layer)
         if isinstance(sublayer, keras.layers.EinsumDense)), Cost())
    length = _positions(input_shape)
    heads, key_dim = layer.num_heads, layer.key_dim
    value_dim = layer.value_dim or key_dim
    products = 2 * length * length * heads * (key_dim + value_dim)
    # Scores are kept twice (softmax output and attention dropout) for the backward pass.
    return projections + Cost(products, 2 * heads * length * length)


def _is_pretrained_backbone(layer) -> bool:
    # A keras-hub transformer backbone (models/pretrained.py); known by its attributes, so that
    # counting needs no keras-hub import.
    return isinstance(layer, keras.Model) and all(
        hasattr(layer, name) for name in ("token_embedding", "num_layers", "hidden_dim"))


def _pretrained_backbone(layer, input_shape: tuple) -> Cost:
    # Its graph was built for any sequence length, so its own shapes say nothing: every
    # projection (Dense, EinsumDense) meets each of the `length` tokens, and each layer's
    # attention compares every pair of tokens (scores, then the weighted sum of values).
    nodes = getattr(layer, "_inbound_nodes", None)
    if nodes and nodes[-1].input_tensors:  # its own input is (None, None): the call's shape
        input_shape = tuple(nodes[-1].input_tensors[0].shape)
    length = input_shape[1] or 1
    total = Cost()
    for sublayer in layer._flatten_layers(include_self=False, recursive=True):
        if isinstance(sublayer, (keras.layers.Dense, keras.layers.EinsumDense)) and \
                "pooled" not in sublayer.name:  # BERT's pooler reads one token: left out
            kernel = math.prod(sublayer.kernel.shape)
            total += Cost(2 * kernel * length, kernel // sublayer.kernel.shape[0] * length)
    heads = getattr(layer, "num_heads", 1)
    scores = Cost(2 * 2 * length * length * layer.hidden_dim, 2 * heads * length * length)
    return total + Cost(layer.num_layers * scores.forward_flops,
                        layer.num_layers * scores.activations)


def _recurrent(layer, input_shape: tuple) -> Cost:
    cell = layer.cell
    steps = input_shape[1] or 1
    per_step = 2 * (math.prod(cell.kernel.shape) + math.prod(cell.recurrent_kernel.shape))
    gates = cell.kernel.shape[-1]
    # Each step keeps its gate values and its state for backpropagation through time.
    return Cost(steps * per_step, steps * (gates + cell.units))


def _is_convolution(layer) -> bool:
    # Transposed and depthwise convolutions count differently; no bigmodel family uses them.
    return isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)) \
        and not isinstance(layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                                   keras.layers.Conv3DTranspose))


def _sublayers(layer) -> list:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _shape(layer, which: str) -> tuple | None:
    try:
        tensor = getattr(layer, which)
    except (AttributeError, ValueError):  # a layer used more than once has no single shape
        return None
    if isinstance(tensor, dict):  # named inputs, e.g. a pretrained backbone's token tensors
        tensor = next(iter(tensor.values()))
    if isinstance(tensor, (list, tuple)):
        tensor = tensor[0]
    return tuple(tensor.shape)


def _known(shape: tuple | None) -> bool:
    return shape is not None and all(size is not None for size in shape[1:])


def _positions(shape: tuple | None) -> int:
    """How many vectors a per-vector layer is applied to: all axes but batch and features."""
    if shape is None or len(shape) <= 2:
        return 1
    return math.prod(size or 1 for size in shape[1:-1])
