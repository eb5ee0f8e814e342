"""Names and facts that several packages share, each written here once.

The schema, the registries (`data.SOURCES`, `models.MODELS`), the starter and the CLI's help all
read these; tests/test_names.py fails if a registry and a list here disagree. This module
imports nothing, so `bigmodel --help` can use it and stay fast.
"""

from __future__ import annotations

# `model.family`: one builder per name in models/, one config section class in config/schema.py.
MODEL_FAMILIES = ("mlp", "cnn", "rnn", "transformer", "pretrained", "gpt")

# `data.source`: one loader per name in data/, one config section class in config/schema_data.py.
DATA_SOURCES = ("synthetic", "sklearn", "keras", "tfds", "image_folder", "text_folder", "csv",
                "npz", "text_corpus")

# The first entries of every vocabulary Keras' TextVectorization learns: id 0 is padding (''),
# id 1 any word outside the vocabulary ('[UNK]'). A vectorizer given `vocabulary=` adds them
# back itself, so stored vocabularies leave them out and sizes add len(TEXT_SPECIAL_TOKENS).
# (Keras' mask_zero=True and pad_sequences agree that 0 pads.)
TEXT_SPECIAL_TOKENS = ("", "[UNK]")


def one_of(names) -> str:
    """'a, b or c': a list of names for a sentence of help."""
    *first, last = names
    return f"{', '.join(first)} or {last}" if first else last
