"""The dataset sources: scikit-learn's bundled sets and keras.datasets, all offline.

keras.datasets check the hash of their cached files, so a file made here would not be used;
their `load_data` is replaced by one returning small arrays of the real shapes and dtypes.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pydantic import ValidationError

from bigmodel_cli import data
from bigmodel_cli.config.schema import DATA_SOURCES, DataConfig
from bigmodel_cli.errors import DataError


def test_registry_matches_the_schema():
    assert tuple(data.SOURCES) == DATA_SOURCES
    for source in DATA_SOURCES:
        assert callable(data.SOURCES[source])


# --- scikit-learn ---------------------------------------------------------------------------

def sklearn_bundle(name):
    return data.load(DataConfig(source="sklearn", name=name), seed=0)


def test_sklearn_digits_are_images_in_0_to_255():
    result = sklearn_bundle("digits")
    assert sum(result.sizes.values()) == 1797
    assert result.input_spec.kind == "image" and result.input_spec.shape == (8, 8, 1)
    assert result.target.class_names == [str(digit) for digit in range(10)]
    images = np.concatenate([x.numpy() for x, _ in result.train])
    assert images.min() == 0 and images.max() == pytest.approx(255)


@pytest.mark.parametrize("name, features, task, class_names", [
    ("iris", 4, "multiclass", ["setosa", "versicolor", "virginica"]),
    ("breast_cancer", 30, "binary", ["malignant", "benign"]),
    ("wine", 13, "multiclass", ["class_0", "class_1", "class_2"]),
    ("diabetes", 10, "regression", []),
])
def test_sklearn_tables(name, features, task, class_names):
    result = sklearn_bundle(name)
    assert result.input_spec.kind == "vector" and result.input_spec.shape == (features,)
    assert len(result.input_spec.mean) == features
    assert result.target.task == task and result.target.class_names == class_names
    _, labels = next(iter(result.train))
    assert labels.dtype.name == ("float32" if task == "regression" else "int32")


def test_sklearn_unknown_name_suggests_the_closest():
    # The data section refuses the name already (the loader would too).
    with pytest.raises(ValidationError, match="did you mean 'digits'.*breast_cancer, diabetes"):
        sklearn_bundle("digit")


# --- keras.datasets -------------------------------------------------------------------------

def fake_images(shape, label_shape=()):
    def load_data():
        rng = np.random.default_rng(0)
        return tuple(
            (rng.integers(0, 256, (count, *shape), dtype=np.uint8),
             rng.integers(0, 10, (count, *label_shape)).astype(np.uint8))
            for count in (50, 20))
    return load_data


# A tiny language in keras' encoding: 0 pads, 1 starts, 2 is an unknown word, words from 3.
WORD_INDEX = {"the": 1, "film": 2, "was": 3, "wonderful": 4, "dreadful": 5, "plot": 6}


def fake_reviews(**settings):
    assert not settings, "the text datasets are loaded whole; TextVectorization cuts them"
    rng = np.random.default_rng(0)

    def reviews(count):
        # Positive reviews say wonderful (id 4 + 3), negative ones dreadful (5 + 3); a 2 is
        # an unknown word and must not become text.
        return np.array([[1, 4, 5, 6, 2, 7 if index % 2 else 8, *rng.integers(3, 10, 5)]
                         for index in range(count)], dtype=object)
    return (reviews(40), np.arange(40) % 2), (reviews(10), np.arange(10) % 2)


def fake_word_index():
    return dict(WORD_INDEX)


def keras_config(name, **settings):
    return DataConfig(source="keras", name=name, **settings)


def test_keras_mnist_gets_a_channel_axis_and_digit_names(monkeypatch):
    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_images((28, 28)))
    raw = data.keras_source.load(keras_config("mnist"), 0)
    assert raw.train.x.shape == (50, 28, 28, 1) and raw.test.x.shape == (20, 28, 28, 1)
    assert raw.validation is None
    assert raw.class_names == [str(digit) for digit in range(10)]
    result = data.load(keras_config("mnist", validation_split=0.2), 0)
    assert result.sizes == {"train": 40, "validation": 10, "test": 20}
    assert result.input_spec.shape == (28, 28, 1) and result.input_spec.scale == 1 / 255


def test_keras_cifar10_labels_are_flattened(monkeypatch):
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", fake_images((32, 32, 3), (1,)))
    raw = data.keras_source.load(keras_config("cifar10"), 0)
    assert raw.train.x.shape == (50, 32, 32, 3)
    assert raw.train.y.shape == (50,) and raw.train.y.dtype == np.int32
    assert raw.class_names[:3] == ["airplane", "automobile", "bird"]
    assert len(raw.class_names) == 10 and raw.task == "multiclass"


def test_keras_imdb_is_decoded_to_raw_text(monkeypatch):
    monkeypatch.setattr(keras.datasets.imdb, "load_data", fake_reviews)
    monkeypatch.setattr(keras.datasets.imdb, "get_word_index", fake_word_index)
    raw = data.keras_source.load(keras_config("imdb"), 0)
    assert raw.task == "binary" and raw.class_names == ["negative", "positive"]
    assert raw.input_kind == "text" and raw.train.x.dtype == object
    assert raw.train.x[0].startswith("the film was dreadful ")
    assert raw.train.x[1].startswith("the film was wonderful ")
    assert "[UNK]" not in raw.train.x[0] and len(raw.test.x) == 10
    spec = data.load(keras_config("imdb", vocab_size=5, sequence_length=16), 0).input_spec
    assert (spec.kind, spec.sequence_length, len(spec.vocabulary)) == ("text", 16, 3)


def test_keras_reuters_is_text_with_class_names_from_keras(monkeypatch):
    monkeypatch.setattr(keras.datasets.reuters, "load_data", fake_reviews)
    monkeypatch.setattr(keras.datasets.reuters, "get_word_index", fake_word_index)
    raw = data.keras_source.load(keras_config("reuters"), 0)
    assert len(raw.class_names) == 46 and raw.class_names[0] == "cocoa"
    assert raw.input_kind == "text" and raw.train.x[0].startswith("the film was")


def test_keras_offline_word_index_names_its_file(monkeypatch, tmp_path):
    url = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"

    def offline_word_index():
        raise Exception(f"URL fetch failure on {url}: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.imdb, "load_data", fake_reviews)
    monkeypatch.setattr(keras.datasets.imdb, "get_word_index", offline_word_index)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError) as caught:
        data.load(keras_config("imdb"), 0)
    message = str(caught.value)
    assert "\n" not in message and "'imdb'" in message
    assert f"download {url} and save it as {tmp_path / 'datasets' / 'imdb_word_index.json'}" \
        in message


def test_keras_offline_download_is_one_line_with_path_and_url(monkeypatch, tmp_path):
    url = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"

    def offline_load_data():  # what keras.utils.get_file raises without a network
        raise Exception(f"URL fetch failure on {url}: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline_load_data)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError) as caught:
        data.load(keras_config("mnist"), 0)
    message = str(caught.value)
    assert "\n" not in message and "'mnist'" in message
    assert str(tmp_path / "datasets" / "mnist.npz") in message
    assert f"download {url}" in message


def test_keras_other_failures_are_data_errors(monkeypatch):
    def broken_load_data():
        raise OSError("disk on fire\nsecond line")

    monkeypatch.setattr(keras.datasets.cifar100, "load_data", broken_load_data)
    expected = "^could not load keras dataset 'cifar100': disk on fire second line$"
    with pytest.raises(DataError, match=expected):
        data.load(keras_config("cifar100"), 0)


def test_keras_unknown_name():
    with pytest.raises(ValidationError, match="did you mean 'cifar10'"):
        data.load(keras_config("cifar1O"), 0)
