"""Transformer encoder: a sequence of embeddings through self-attention blocks, then pooled.

Every input kind becomes a sequence of `embed_dim` vectors with learned positions: tokens and
text one per token, images one per patch (a strided convolution, as in ViT), vectors one per
feature. The encoder blocks and embeddings live in `layers.py`.
"""

from __future__ import annotations

import keras

from ..config.schema import TransformerConfig
from ..data.spec import IMAGE, InputSpec
from .layers import (
    MaskedGlobalPooling1D,
    PositionEmbedding,
    TokenAndPositionEmbedding,
    TransformerEncoder,
)
from .preprocessing import fixed_sequence_length, is_sequence, vocabulary_size

# Patches per image side to aim for: 8x8 = 64 tokens keeps attention cheap on small images.
PATCHES_PER_SIDE = 8


def build(features, input_spec: InputSpec, config: TransformerConfig):
    """Return the pooled encoder output, shape (batch, embed_dim)."""
    sequence = _embed(features, input_spec, config)
    for index in range(config.num_layers):
        sequence = TransformerEncoder(
            embed_dim=config.embed_dim, num_heads=config.num_heads, ff_dim=config.ff_dim,
            dropout=config.dropout, name=f"encoder_{index}")(sequence)
    # Pooling skips padded tokens through the mask from TokenAndPositionEmbedding.
    return MaskedGlobalPooling1D(config.pooling, name=f"{config.pooling}_pool")(sequence)


def _embed(features, input_spec: InputSpec, config: TransformerConfig):
    if is_sequence(input_spec):
        return TokenAndPositionEmbedding(
            vocabulary_size=vocabulary_size(input_spec),
            sequence_length=fixed_sequence_length(features, "transformer"),
            embed_dim=config.embed_dim, name="token_and_position_embedding")(features)
    if input_spec.kind == IMAGE:
        sequence = _image_patches(features, config)
    else:
        # A vector: each feature is a token, its value scaling one shared learned direction;
        # the position embedding tells the features apart.
        sequence = keras.layers.Reshape((-1, 1), name="features_as_tokens")(features)
        sequence = keras.layers.Dense(config.embed_dim, name="feature_projection")(sequence)
    return PositionEmbedding(sequence_length=sequence.shape[1], embed_dim=config.embed_dim,
                             name="position_embedding")(sequence)


def _image_patches(features, config: TransformerConfig):
    height, width = features.shape[1:3]
    patch_size = max(1, min(height, width) // PATCHES_PER_SIDE)
    # A convolution with stride = kernel = patch size embeds each patch independently.
    patches = keras.layers.Conv2D(config.embed_dim, patch_size, strides=patch_size,
                                  name="patch_embedding")(features)
    rows, columns = patches.shape[1:3]
    return keras.layers.Reshape((rows * columns, config.embed_dim), name="patches")(patches)
