"""Random-weight keras-hub presets and a small labelled text folder, made for the tests.

DistilBERT and BERT with 2 layers of width 32 and a vocabulary of the words the texts use,
saved with keras-hub's `save_to_preset`: what a preset downloaded from a hub looks like on disk,
without a download.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POSITIVE = "good great fine lovely superb wonderful".split()
NEGATIVE = "bad awful poor dull boring terrible".split()
FILLER = "the a movie film plot actor story was is very and it this".split()
VOCABULARY = SPECIAL + POSITIVE + NEGATIVE + FILLER
SIZE = {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64,
        "max_sequence_length": 64}


def save_presets(folder: Path) -> dict[str, Path]:
    """{'distil_bert': folder, 'bert': folder}, each a keras-hub preset with random weights."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    models = keras_hub.models
    made = {}
    for name, backbone_class, tokenizer_class in (
            ("distil_bert", models.DistilBertBackbone, models.DistilBertTokenizer),
            ("bert", models.BertBackbone, models.BertTokenizer)):
        path = folder / name
        backbone_class(vocabulary_size=len(VOCABULARY), **SIZE).save_to_preset(str(path))
        tokenizer_class(vocabulary=VOCABULARY).save_to_preset(str(path))
        made[name] = path
    return made


def write_reviews(folder: Path, per_class: int = 48) -> Path:
    """A text folder: pos/ and neg/, each review a few filler words and its class's words."""
    import random

    rng = random.Random(0)
    for label, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            text = rng.sample(FILLER, 4) + rng.sample(words, 2)
            rng.shuffle(text)
            (folder / label / f"{index:03d}.txt").write_text(" ".join(text))
    return folder


def save_image_preset(folder: Path) -> Path:
    """A random-weight ResNet (one basic block of 64 filters, the fewest keras-hub allows) and
    its image converter (16 x 16 images scaled to [0, 1]), as `save_to_preset` writes them."""
    import keras_hub

    models = keras_hub.models
    models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(None, None, 3)).save_to_preset(str(folder))
    keras_hub.layers.ResNetImageConverter(image_size=(16, 16), scale=1 / 255).save_to_preset(
        str(folder))
    return folder
