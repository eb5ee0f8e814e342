"""Decoder-only transformer (GPT-2's layout): token embedding + learned positions, pre-LayerNorm
causal blocks, a final LayerNorm, and logits over the vocabulary at every position, the output
projection tied to the token embedding unless `tie_embeddings: false`.

Unlike the other families, the body ends in the logits itself (`includes_head`): a tied
projection is the embedding layer called in reverse, which a separate head layer cannot be.
The block layers live in gpt_layers.py; predict/generate.py drives them one position at a time.
"""

from __future__ import annotations

import keras

from ..config.schema import GptConfig
from ..data.spec import TOKENS, InputSpec
from ..errors import ConfigError
from ..tasks.base import OUTPUT_NAME
from .gpt_layers import CausalBlock, LearnedPositions, TokenEmbedding

# Layer names generate.py looks up in a loaded model.
EMBEDDING, POSITIONS, FINAL_NORM, OUTPUT_PROJECTION = ("token_embedding", "positions",
                                                       "final_norm", "output_projection")


def block_name(index: int) -> str:
    return f"block_{index}"


def build(features, input_spec: InputSpec, config: GptConfig):
    """Token ids (batch, context) -> float32 logits (batch, context, vocabulary)."""
    if input_spec.kind != TOKENS or not input_spec.tokenizer:
        raise ConfigError("model.family gpt reads a text corpus; set data.source: text_corpus "
                          "(with data.path to your text)")
    length, width = input_spec.shape[0], config.embed_dim
    embedding = TokenEmbedding(input_spec.vocab_size, width,
                               length if config.tie_embeddings else 0, name=EMBEDDING)
    sequence = LearnedPositions(length, width, name=POSITIONS)(embedding(features))
    if config.dropout:
        sequence = keras.layers.Dropout(config.dropout, name="embedding_dropout")(sequence)
    for index in range(config.num_layers):
        sequence = CausalBlock(width, config.num_heads, config.ff_dim, config.dropout,
                               config.num_layers, name=block_name(index))(sequence)
    sequence = keras.layers.LayerNormalization(epsilon=1e-5, name=FINAL_NORM)(sequence)
    if config.tie_embeddings:
        logits = embedding(sequence, reverse=True)
    else:
        logits = keras.layers.Dense(input_spec.vocab_size, use_bias=False,
                                    name=OUTPUT_PROJECTION)(sequence)
    # float32 logits under mixed precision; the name every model's last layer has.
    return keras.layers.Activation("linear", dtype="float32", name=OUTPUT_NAME)(logits)


build.includes_head = True
