"""PresetTokenizer: a keras-hub preprocessor (tokenizer + packer) as one layer of a saved model.

A keras-hub preprocessor keeps its vocabulary as an asset, which Keras loads only after it has
rebuilt the model's graph; rebuilding calls each layer on symbolic inputs, and a tokenizer
without its vocabulary refuses. This layer states its outputs' shapes itself (one tensor of
`sequence_length` per key), so a saved model loads, then its vocabulary arrives.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="bigmodel")
class PresetTokenizer(keras.layers.Layer):
    """Raw strings -> the dict of tensors a keras-hub backbone takes (token_ids, ...)."""

    def __init__(self, preprocessor, output_dtypes: dict, sequence_length: int, **kwargs):
        super().__init__(**kwargs)
        if isinstance(preprocessor, dict):  # from a saved config
            from ..extras import require

            require("keras_hub", "loading a model.family: pretrained model")  # registers it
            preprocessor = keras.saving.deserialize_keras_object(preprocessor)
        self.preprocessor = preprocessor
        self.output_dtypes = dict(output_dtypes)
        self.sequence_length = sequence_length
        self.built = True  # no weights of its own; the vocabulary is an asset of the tokenizer

    def call(self, inputs):
        return self.preprocessor(inputs)

    def compute_output_spec(self, inputs):
        shape = (inputs.shape[0], self.sequence_length)
        return {key: keras.KerasTensor(shape, dtype=dtype)
                for key, dtype in self.output_dtypes.items()}

    def get_config(self):
        return {**super().get_config(),
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
                "output_dtypes": self.output_dtypes, "sequence_length": self.sequence_length}
