"""Decoder-only transformer (GPT-2's layout): token embedding + learned positions, pre-LayerNorm
causal blocks, a final LayerNorm, and logits over the vocabulary at every position, the output
projection tied to the token embedding unless `tie_embeddings: false`. With `positions:
rotary` no position vectors are added: every block rotates its queries and keys (rotary.py).

Unlike the other families, the body ends in the logits itself (`includes_head`): a tied
projection is the embedding layer called in reverse, which a separate head layer cannot be.
The block layers live in gpt_layers.py; predict/generate.py drives them one position at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    std = config.init_std
    embedding = TokenEmbedding(input_spec.vocab_size, width,
                               length if config.tie_embeddings else 0, std, name=EMBEDDING)
    sequence = embedding(features)
    rotary = config.positions == "rotary"
    if not rotary:
        sequence = LearnedPositions(length, width, std, name=POSITIONS)(sequence)
    if config.dropout:
        sequence = keras.layers.Dropout(config.dropout, name="embedding_dropout")(sequence)
    for index in range(config.num_layers):
        sequence = CausalBlock(width, config.num_heads, config.ff_dim, config.dropout,
                               config.num_layers, rotary, std, config.gelu,
                               name=block_name(index))(sequence)
    sequence = keras.layers.LayerNormalization(epsilon=1e-5, name=FINAL_NORM)(sequence)
    if config.tie_embeddings:
        logits = embedding(sequence, reverse=True)
    else:
        logits = keras.layers.Dense(input_spec.vocab_size, use_bias=False,
                                    name=OUTPUT_PROJECTION)(sequence)
    # float32 logits under mixed precision; the name every model's last layer has.
    return keras.layers.Activation("linear", dtype="float32", name=OUTPUT_NAME)(logits)


build.includes_head = True


@dataclass
class Parts:
    """A built or loaded gpt model's layers, for code that runs them one by one (generate.py's
    key/value cache, explain_lm.py): `positions` is None for rotary positions, `output` None
    for a tied projection."""

    embedding: TokenEmbedding
    positions: LearnedPositions | None
    blocks: list
    final_norm: keras.layers.Layer
    output: keras.layers.Layer | None

    @classmethod
    def of(cls, model) -> Parts:
        names = {layer.name for layer in model.layers}

        def optional(name):
            return model.get_layer(name) if name in names else None

        blocks = []
        while block_name(len(blocks)) in names:
            blocks.append(model.get_layer(block_name(len(blocks))))
        return cls(model.get_layer(EMBEDDING), optional(POSITIONS), blocks,
                   model.get_layer(FINAL_NORM), optional(OUTPUT_PROJECTION))

    def place(self, vectors, start=None):
        """Embedded tokens from position `start` (default 0) with their learned positions
        added; rotary blocks place them themselves."""
        return vectors if self.positions is None else self.positions(vectors, start=start)

    def logits(self, hidden):
        """The last block's output -> logits (final norm, then the output projection)."""
        hidden = self.final_norm(hidden)
        return self.output(hidden) if self.output is not None \
            else self.embedding(hidden, reverse=True)
