"""A pretrained keras-hub backbone with its own preprocessing, fine-tuned under a task's head.

Text: the saved model takes raw strings: `PresetTokenizer` (the preset's preprocessor, with
`data.sequence_length`) -> the body model, which takes the token tensors and holds the backbone,
pooling, dropout, dense_units and the task's head. Training feeds the body model with tokens
made in the input pipeline (train/assemble.py), as for bigmodel's own text models.
Images: raw pixels -> the preset's image converter (resize, scale, normalize) -> the backbone
-> pooled -> head, all one model.
"""

from __future__ import annotations

import keras

from ..data.spec import IMAGE, TEXT, InputSpec
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
    if input_spec.kind not in (TEXT, IMAGE):
        raise ConfigError(f"model.family pretrained reads text or images, but the data gives "
                          f"{input_spec.kind} inputs; use a text source (text_folder, tfds or "
                          "keras text datasets) or an image source")
    folder = hub.preset_folder(config.preset)
    backbone = keras_hub.models.Backbone.from_preset(folder)
    if input_spec.kind == IMAGE:
        return _image_model(keras_hub, folder, backbone, input_spec, config, name, finish)
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


def _image_model(keras_hub, folder: str, backbone, input_spec: InputSpec, config, name: str,
                 finish) -> keras.Model:
    if config.trainable == "lora":
        raise ConfigError("model.trainable: lora adapts attention layers of text backbones; "
                          "for an image backbone use all or head")
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(folder)
    except (FileNotFoundError, ValueError) as error:
        raise ConfigError(f"model.preset: {folder} has no image converter (image_converter."
                          "json: how its images are resized and scaled); save the preset's "
                          f"converter into it with save_to_preset ({str(error).splitlines()[0]})"
                          ) from None
    _set_trainable(backbone, config)
    images = keras.Input(shape=input_spec.shape, dtype=input_spec.dtype, name="inputs")
    pixels = images
    if len(input_spec.shape) == 2:  # grayscale without a channel axis: backbones want RGB
        pixels = keras.layers.Reshape((*input_spec.shape, 1), name="add_channel")(pixels)
    if input_spec.scale and abs(input_spec.scale * 255 - 1) > 1e-6:
        # Pixels in another range (e.g. 0-16): brought to the 0-255 the converter expects.
        pixels = keras.layers.Rescaling(input_spec.scale * 255, name="to_0_255")(pixels)
    if pixels.shape[-1] == 1:
        pixels = keras.layers.Concatenate(name="gray_to_rgb")([pixels] * 3)
    # The converter takes raw pixels in [0, 255], as the data gives them.
    features = backbone(converter(pixels))
    if len(features.shape) == 4:  # a feature map (ResNet, EfficientNet)
        features = keras.layers.GlobalAveragePooling2D(name="average_pool")(features)
    elif len(features.shape) == 3:  # patch tokens (ViT): the class token, or their mean
        features = (keras.layers.GlobalAveragePooling1D(name="mean_pool")(features)
                    if config.pooling == "mean" else features[:, 0, :])
    if config.dropout:
        features = keras.layers.Dropout(config.dropout, name="head_dropout")(features)
    return keras.Model(images, finish(features), name=name)


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
