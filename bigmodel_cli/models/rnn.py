"""Recurrent network: stacked LSTM or GRU layers over a sequence.

Tokens and text are embedded with a padding mask, so the recurrent layers skip padding.
Other inputs are read as sequences too: an image row by row, a vector feature by feature.
"""

from __future__ import annotations

import keras

from ..config.schema import RnnConfig
from ..data.spec import IMAGE, InputSpec
from .preprocessing import is_sequence, vocabulary_size

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build(features, input_spec: InputSpec, config: RnnConfig):
    """Return the last layer's final output: (batch, units), or 2 * units if bidirectional."""
    features = _as_sequence(features, input_spec, config)
    cell_class = CELLS[config.cell]
    for index in range(config.num_layers):
        # Every layer but the last hands its whole sequence to the next one.
        last = index == config.num_layers - 1
        recurrent = cell_class(config.units, return_sequences=not last,
                               name=f"{config.cell}_{index}")
        if config.bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{index}")
        features = recurrent(features)
        # Dropout between layers rather than inside the cell keeps the fast cuDNN kernel usable.
        if config.dropout:
            features = keras.layers.Dropout(config.dropout, name=f"dropout_{index}")(features)
    return features


def _as_sequence(features, input_spec: InputSpec, config: RnnConfig):
    if is_sequence(input_spec):
        return keras.layers.Embedding(
            vocabulary_size(input_spec), config.embedding_dim, mask_zero=True,
            name="embedding")(features)
    if input_spec.kind == IMAGE:
        height, width, channels = features.shape[1:]
        return keras.layers.Reshape((height, width * channels), name="rows_as_steps")(features)
    # A vector: one feature per time step.
    return keras.layers.Reshape((-1, 1), name="features_as_steps")(features)
