"""The decoder-only transformer's layers: reversible token embedding, positions, causal block.

Each block can run two ways: over a whole sequence with a causal mask (training, evaluation,
a prompt), or one new position at a time against a key/value cache (`step`), so generation
costs one position per token instead of the whole context. Both ways use the same weights
and the same arithmetic order, so greedy decoding with the cache gives the tokens a full
recomputation gives (tests/test_lm.py). Registered by name for safe-mode loading.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from . import rotary as rope

PACKAGE = "bigmodel"
# GPT-2's normal(0, 0.02) for embeddings and projections: the default of layers saved before
# the std was a setting (an initializer only matters when a layer is first built).
INITIALIZER_STD = 0.02
EXACT, TANH = "exact", "tanh"  # GELU: exact erf, or GPT-2's tanh approximation


def _normal(std: float = INITIALIZER_STD):
    return keras.initializers.RandomNormal(stddev=std)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenEmbedding(keras.layers.Layer):
    """Token ids -> vectors; called with `reverse=True`, vectors -> logits over the tokens
    with the same matrix (tied input and output embeddings, as in GPT-2).

    `sequence_length` is only for the FLOPs estimate of the reverse call (train/flops.py): a
    layer called twice has no single output shape to read it from."""

    def __init__(self, vocabulary_size: int, embed_dim: int, sequence_length: int = 0,
                 init_std: float = INITIALIZER_STD, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.embed_dim = vocabulary_size, embed_dim
        self.sequence_length, self.init_std = sequence_length, init_std

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.vocabulary_size, self.embed_dim),
                                          initializer=_normal(self.init_std), name="embeddings")

    def call(self, inputs, reverse: bool = False):
        if reverse:
            kernel = ops.cast(self.embeddings, inputs.dtype)
            return ops.matmul(inputs, ops.transpose(kernel))
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)

    def compute_output_spec(self, inputs, reverse: bool = False):
        if reverse:
            return keras.KerasTensor((*inputs.shape[:-1], self.vocabulary_size),
                                     dtype=self.compute_dtype)
        return keras.KerasTensor((*inputs.shape, self.embed_dim), dtype=self.compute_dtype)

    def extra_cost(self, input_shape=None) -> int:
        """Forward FLOPs per example of the reverse call (the tied output projection; 0 when
        the model is built untied, with sequence_length 0)."""
        return 2 * self.vocabulary_size * self.embed_dim * self.sequence_length

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "embed_dim": self.embed_dim, "sequence_length": self.sequence_length,
                "init_std": self.init_std}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LearnedPositions(keras.layers.Layer):
    """Adds a learned vector per position; `start` shifts the positions (cached decoding)."""

    def __init__(self, sequence_length: int, embed_dim: int, init_std: float = INITIALIZER_STD,
                 **kwargs):
        super().__init__(**kwargs)
        self.sequence_length, self.embed_dim = sequence_length, embed_dim
        self.init_std = init_std

    def build(self, input_shape=None):
        self.positions = self.add_weight(shape=(self.sequence_length, self.embed_dim),
                                         initializer=_normal(self.init_std), name="positions")

    def call(self, inputs, start=None):
        length = ops.shape(inputs)[1]
        if start is None:
            positions = self.positions[:length]
        else:  # a gather, not a slice: XLA would compile again for every start value
            positions = ops.take(self.positions, start + ops.arange(length), axis=0)
        return inputs + ops.cast(positions, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "embed_dim": self.embed_dim, "init_std": self.init_std}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CausalBlock(keras.layers.Layer):
    """Pre-LayerNorm block: x + attention(norm(x)), then x + mlp(norm(x)), GPT-2's order.

    Queries, keys and values come from one fused projection (one matmul instead of three).
    Dropout is on the residual branches (as nanoGPT's `resid_dropout`); attention weights
    are not dropped, which keeps Keras' fused attention path. With `rotary`, queries and keys
    are rotated by their position (rotary.py) before attention; the cache keeps the keys
    rotated, so a step rotates only its own query and key. The MLP's GELU is GPT-2's tanh
    approximation in new models: exact GELU lowers to an `Erfc` op that ONNX export cannot
    convert. `rotary`, `init_std` and `gelu` default to what a block saved before they
    existed was."""

    def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, dropout: float = 0.0,
                 num_layers: int = 1, rotary: bool = False, init_std: float = INITIALIZER_STD,
                 gelu: str = EXACT, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim = embed_dim, num_heads, ff_dim
        self.dropout, self.num_layers, self.rotary = dropout, num_layers, rotary
        self.init_std, self.gelu = init_std, gelu
        self.head_dim = embed_dim // num_heads
        # GPT-2 scales the projections into the residual stream by 1/sqrt(2 x layers).
        residual = _normal(init_std / math.sqrt(2 * num_layers))
        # The block's own policy, not the global one: a loaded mixed-precision model is
        # rebuilt under float32, and float32 sublayers would not add to the bfloat16 stream.
        policy = self.dtype_policy
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy,
                                                              name="attention_norm")
        self.qkv = keras.layers.Dense(3 * embed_dim, kernel_initializer=_normal(init_std),
                                      dtype=policy, name="qkv")
        self.attention_output = keras.layers.Dense(embed_dim, kernel_initializer=residual,
                                                   dtype=policy, name="attention_output")
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy,
                                                        name="mlp_norm")
        self.mlp_in = keras.layers.Dense(ff_dim, kernel_initializer=_normal(init_std),
                                         dtype=policy, name="mlp_in")
        self.mlp_out = keras.layers.Dense(embed_dim, kernel_initializer=residual, dtype=policy,
                                          name="mlp_out")
        self.attention_dropout = keras.layers.Dropout(dropout, dtype=policy,
                                                      name="attention_dropout")
        self.mlp_dropout = keras.layers.Dropout(dropout, dtype=policy, name="mlp_dropout")

    def build(self, input_shape):
        self.attention_norm.build(input_shape)
        self.qkv.build(input_shape)
        self.attention_output.build(input_shape)
        self.mlp_norm.build(input_shape)
        self.mlp_in.build(input_shape)
        self.mlp_out.build((*input_shape[:-1], self.ff_dim))

    def _heads(self, x, start=0):
        """(batch, length, width) at positions start, start + 1, ... -> query, key, value,
        each (batch, length, heads, dim), the query and key rotated there if rotary."""
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        qkv = ops.reshape(self.qkv(x), (batch, length, 3, self.num_heads, self.head_dim))
        query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        if self.rotary:
            positions = ops.cast(start, "int32") + ops.arange(length, dtype="int32")
            query, key = rope.rotate(query, positions), rope.rotate(key, positions)
        return query, key, value

    def _finish(self, x, attended, training):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        attended = ops.reshape(attended, (batch, length, self.embed_dim))
        x = x + self.attention_dropout(self.attention_output(attended), training=training)
        hidden = ops.gelu(self.mlp_in(self.mlp_norm(x)), approximate=self.gelu == TANH)
        mlp = self.mlp_out(hidden)
        return x + self.mlp_dropout(mlp, training=training)

    def call(self, inputs, training=None):
        query, key, value = self._heads(self.attention_norm(inputs))
        attended = ops.dot_product_attention(query, key, value, is_causal=True)
        return self._finish(inputs, attended, training)

    def prefill(self, inputs, start=0):
        """The whole prompt at once: the outputs and its keys and values for the cache.
        `start` is the first input's position (rotary only; learned positions are added
        before the blocks): generate.py always starts at 0, tests/test_rotary.py shifts it."""
        query, key, value = self._heads(self.attention_norm(inputs), start)
        attended = ops.dot_product_attention(query, key, value, is_causal=True)
        return self._finish(inputs, attended, False), key, value

    def step(self, inputs, key_cache, value_cache, index):
        """One new position at `index` against the cache (batch, capacity, heads, dim);
        returns its output and the updated caches."""
        query, key, value = self._heads(self.attention_norm(inputs), index)
        # A select, not a dynamic slice update: XLA compiles this once for every index.
        positions = ops.arange(ops.shape(key_cache)[1])
        here = ops.reshape(positions == index, (1, -1, 1, 1))
        key_cache = ops.where(here, key, key_cache)
        value_cache = ops.where(here, value, value_cache)
        visible = positions <= index  # the cache's filled part
        mask = ops.reshape(visible, (1, 1, 1, -1))
        attended = ops.dot_product_attention(query, key_cache, value_cache, mask=mask)
        return self._finish(inputs, attended, False), key_cache, value_cache

    def extra_cost(self, input_shape) -> int:
        """Forward FLOPs per example of the attention products (scores and weighted sum);
        the projections are Dense sublayers, counted as such. Counted over the full square,
        as MFU conventions do (nanoGPT's 12 x layers x context x width per token)."""
        length = input_shape[1] or 0
        return 4 * length * length * self.embed_dim

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim,
                "num_heads": self.num_heads, "ff_dim": self.ff_dim, "dropout": self.dropout,
                "num_layers": self.num_layers, "rotary": self.rotary,
                "init_std": self.init_std, "gelu": self.gelu}
