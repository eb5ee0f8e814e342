"""The shared names of bigmodel_cli/names.py agree with every registry and table keyed on them."""

from __future__ import annotations

import keras
import typer

from bigmodel_cli import cli, data, models, names
from bigmodel_cli.config import schema, starter


def test_the_data_registry_loads_every_source_and_no_other():
    assert tuple(data.SOURCES) == names.DATA_SOURCES


def test_the_model_registry_builds_every_family_and_no_other():
    assert tuple(models.MODELS) == names.MODEL_FAMILIES


def test_the_schema_has_one_section_class_per_source_and_per_family():
    assert tuple(schema.DATA_CLASSES) == names.DATA_SOURCES
    assert tuple(schema.MODEL_CLASSES) == names.MODEL_FAMILIES
    assert set(schema.FILE_SOURCES) < set(names.DATA_SOURCES)


def test_the_starter_knows_every_family_and_every_file_source():
    assert set(starter.SYNTHETIC_KINDS) == set(names.MODEL_FAMILIES)
    assert set(starter.FILE_KINDS) == set(schema.FILE_SOURCES)
    assert set(starter.PLACEHOLDERS) <= set(schema.FILE_SOURCES)


def test_init_help_lists_every_family_and_every_source():
    init = typer.main.get_command(cli.app).commands["init"]
    helps = {param.name: param.help for param in init.params}
    assert helps["family"].startswith("mlp, cnn, rnn, transformer, pretrained or gpt (")
    assert helps["source"].startswith(
        "synthetic, sklearn, keras, tfds, image_folder, text_folder, csv, npz or text_corpus (")


def test_text_special_tokens_are_the_ones_text_vectorization_puts_first():
    vectorizer = keras.layers.TextVectorization()
    vectorizer.adapt(["b a b", "c"])
    vocabulary = vectorizer.get_vocabulary()
    assert tuple(vocabulary[: len(names.TEXT_SPECIAL_TOKENS)]) == names.TEXT_SPECIAL_TOKENS
    assert vocabulary[len(names.TEXT_SPECIAL_TOKENS)] == "b"  # then the words, most frequent first
    # A vectorizer given the words alone adds the tokens back: "zzz" is unknown, padding is 0.
    given = keras.layers.TextVectorization(vocabulary=["b", "a"], output_sequence_length=4)
    assert given.get_vocabulary()[: len(names.TEXT_SPECIAL_TOKENS)] == list(
        names.TEXT_SPECIAL_TOKENS)
    assert given(["a zzz"]).numpy().tolist() == [[3, 1, 0, 0]]
