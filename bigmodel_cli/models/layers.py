"""Custom layers (embeddings, encoder block, masked pooling), saved by name for safe mode.

Each layer takes flat keyword arguments, stores each, and returns them from `get_config()`:
that is all Keras needs to rebuild it with `load_model(path, safe_mode=True)`, provided this
module has been imported (the decorator registers the class under "bigmodel>Name").
Sublayers get this layer's dtype policy, so a mixed-precision model stays mixed inside them.
"""

from __future__ import annotations

import keras
from keras import ops

from .attention import PACKAGE, SelfAttention


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionEmbedding(keras.layers.Layer):
    """Add a learned vector per position to a sequence of embeddings (patches, features)."""

    def __init__(self, sequence_length: int, embed_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.embed_dim = embed_dim
        self.position_embedding = keras.layers.Embedding(
            sequence_length, embed_dim, dtype=self.dtype_policy, name="position_embedding")
        self.supports_masking = True

    def build(self, input_shape):
        self.position_embedding.build((self.sequence_length,))

    def call(self, inputs):
        positions = ops.arange(ops.shape(inputs)[1])
        return inputs + self.position_embedding(positions)

    def get_config(self):
        return {**super().get_config(),
                "sequence_length": self.sequence_length, "embed_dim": self.embed_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token ids to embeddings plus learned positions; id 0 is padding and is masked out."""

    def __init__(self, vocabulary_size: int, sequence_length: int, embed_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embed_dim = embed_dim
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embed_dim, dtype=self.dtype_policy, name="token_embedding")
        self.position_embedding = keras.layers.Embedding(
            sequence_length, embed_dim, dtype=self.dtype_policy, name="position_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.sequence_length,))

    def call(self, inputs):
        positions = ops.arange(ops.shape(inputs)[1])
        return self.token_embedding(inputs) + self.position_embedding(positions)

    def compute_mask(self, inputs, mask=None):
        # Attention and pooling downstream ignore padded positions through this mask.
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length, "embed_dim": self.embed_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerEncoder(keras.layers.Layer):
    """One post-norm encoder block: self-attention and a feed-forward net, each residual."""

    def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, dropout: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.dropout = dropout
        policy = self.dtype_policy
        self.attention = SelfAttention(
            num_heads, key_dim=embed_dim // num_heads, dropout=dropout, dtype=policy,
            name="attention")
        self.attention_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy)
        self.feed_forward_inner = keras.layers.Dense(ff_dim, activation="relu", dtype=policy)
        self.feed_forward_outer = keras.layers.Dense(embed_dim, dtype=policy)
        self.feed_forward_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy)
        self.supports_masking = True  # the padding mask passes through to the next block

    def build(self, input_shape):
        # Built here, not lazily, so that loading a saved model finds every weight in place.
        self.attention.build(input_shape, input_shape)
        self.attention_norm.build(input_shape)
        self.feed_forward_inner.build(input_shape)
        self.feed_forward_outer.build((*input_shape[:-1], self.ff_dim))
        self.feed_forward_norm.build(input_shape)

    def call(self, inputs, mask=None, training=None):
        attended = self.attention(
            inputs, inputs, query_mask=mask, value_mask=mask, training=training)
        attended = self.attention_dropout(attended, training=training)
        hidden = self.attention_norm(inputs + attended)
        transformed = self.feed_forward_outer(self.feed_forward_inner(hidden))
        transformed = self.feed_forward_dropout(transformed, training=training)
        return self.feed_forward_norm(hidden + transformed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "ff_dim": self.ff_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedGlobalPooling1D(keras.layers.Layer):
    """Mean or max over the sequence of the real (unmasked) positions only.

    Keras's GlobalAveragePooling1D divides by the number of real tokens, which gives NaN for an
    all-padding sequence (an empty string); its GlobalMaxPooling1D ignores the mask. Here an
    all-padding sequence pools to zeros.
    """

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("mean", "max"):
            raise ValueError(f"mode must be 'mean' or 'max'. Received: mode={mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        real = ops.expand_dims(ops.cast(mask, "bool"), -1)
        if self.mode == "mean":
            total = ops.sum(ops.where(real, inputs, 0), axis=1)
            count = ops.sum(ops.cast(real, inputs.dtype), axis=1)
            return total / ops.maximum(count, 1)
        # Far below any activation, yet inside float16's range under mixed precision.
        half = keras.backend.standardize_dtype(inputs.dtype) == "float16"
        lowest = ops.cast(-6e4 if half else -1e9, inputs.dtype)
        largest = ops.max(ops.where(real, inputs, lowest), axis=1)
        return ops.where(ops.any(real, axis=1), largest, 0)

    def compute_mask(self, inputs, mask=None):
        return None  # the sequence axis is gone

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
