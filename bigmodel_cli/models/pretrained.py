"""A pretrained keras-hub backbone with its own tokenizer, fine-tuned under a task's head.

The saved model takes raw strings: `PresetTokenizer` (the preset's preprocessor, with
`data.sequence_length`) -> the body model, which takes the token tensors and holds the backbone,
pooling, dropout, dense_units and the task's head. Training feeds the body model with tokens
made in the input pipeline (train/assemble.py), as for bigmodel's own text models.
"""

from __future__ import annotations

import keras

from ..data.spec import TEXT, InputSpec
from ..errors import ConfigError
from . import hub
from .layers import MaskedGlobalPooling1D
from .tokenize import PresetTokenizer

TOKENIZE_LAYER = "tokenize"  # names the assembler looks for
BODY_SUFFIX = "_on_tokens"
DEFAULT_LORA_RANK = 8  # model.lora_rank: null


def build(input_spec: InputSpec, config, name: str, finish) -> keras.Model:
    """The saved model; `finish(features)` adds dense_units and the task's head."""
    from ..extras import require

    keras_hub = require("keras_hub", "model.family: pretrained")
    if input_spec.kind != TEXT:
        raise ConfigError(f"model.family pretrained reads text, but the data gives "
                          f"{input_spec.kind} inputs; use a text source (text_folder, csv with "
                          "a text column, tfds or keras text datasets)")
    folder = hub.preset_folder(config.preset)
    backbone = keras_hub.models.Backbone.from_preset(folder)
    length = _sequence_length(input_spec, backbone)
    preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
        folder, sequence_length=length)
    _set_trainable(backbone, config)

    import tensorflow as tf

    example = preprocessor(tf.constant(["a"]))  # which tensors the backbone takes
    tokens = {key: keras.Input(shape=(length,), dtype=value.dtype.name, name=key)
              for key, value in example.items()}
    features = _pool(backbone(tokens), tokens, config.pooling)
    if config.dropout:
        features = keras.layers.Dropout(config.dropout, name="head_dropout")(features)
    body = keras.Model(tokens, finish(features), name=f"{name}{BODY_SUFFIX}")

    tokenize = PresetTokenizer(preprocessor, {key: value.dtype.name for key, value in
                                              example.items()}, length, name=TOKENIZE_LAYER)
    texts = keras.Input(shape=(), dtype="string", name="inputs")
    return keras.Model(texts, body(tokenize(texts)), name=name)


def body_of(saved: keras.Model) -> tuple:
    """(tokenizer layer, body model) of a saved pretrained model."""
    return saved.get_layer(TOKENIZE_LAYER), saved.get_layer(f"{saved.name}{BODY_SUFFIX}")


def _sequence_length(input_spec: InputSpec, backbone) -> int:
    length = input_spec.sequence_length
    positions = getattr(backbone, "max_sequence_length", None)
    if positions and length > positions:
        raise ConfigError(f"data.sequence_length {length} is longer than the {positions} "
                          f"positions the preset was trained with; set data.sequence_length: "
                          f"{positions} or less")
    return length


def _set_trainable(backbone, config) -> None:
    if config.trainable == "head":
        backbone.trainable = False
    elif config.trainable == "lora":
        # keras-hub freezes the backbone and adds rank-r adapters to the attention's query
        # and value projections. Keras leaves those projections' biases trainable; LoRA as
        # published (and peft's default) trains the adapters alone, so they are frozen too.
        backbone.enable_lora(config.lora_rank or DEFAULT_LORA_RANK)
        for layer in backbone._flatten_layers(include_self=False, recursive=True):
            if getattr(layer, "lora_enabled", False) and getattr(layer, "bias", None) is not None:
                layer.bias.trainable = False


def _pool(outputs, tokens: dict, pooling: str):
    sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
    if pooling == "mean":
        return MaskedGlobalPooling1D("mean", name="mean_pool")(
            sequence, mask=tokens.get("padding_mask"))
    if pooling == "auto" and isinstance(outputs, dict) and "pooled_output" in outputs:
        return outputs["pooled_output"]  # BERT's pretrained pooler on the [CLS] token
    return sequence[:, 0, :]  # the first ([CLS]) token, as keras-hub's classifiers read it
