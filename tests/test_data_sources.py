"""The dataset sources: scikit-learn's bundled sets and keras.datasets, all offline.

keras.datasets check the hash of their cached files, so a file made here would not be used;
their `load_data` is replaced by one returning small arrays of the real shapes and dtypes.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from bigmodel_cli import data
from bigmodel_cli.errors import ConfigError, DataError
from bigmodel_cli.schema import DATA_SOURCES, DataConfig


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
    with pytest.raises(ConfigError, match="did you mean 'digits'.*breast_cancer, diabetes"):
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


def fake_reviews(num_words=None, **unused):
    rng = np.random.default_rng(0)
    def reviews(count):
        return np.array([[1, *rng.integers(2, num_words, rng.integers(5, 400))]
                         for _ in range(count)], dtype=object)
    return (reviews(40), np.arange(40) % 2), (reviews(10), np.arange(10) % 2)


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


def test_keras_imdb_tokens_are_binary_and_padded(monkeypatch):
    monkeypatch.setattr(keras.datasets.imdb, "load_data", fake_reviews)
    raw = data.keras_source.load(keras_config("imdb", vocab_size=500), 0)
    assert raw.task == "binary" and raw.class_names == ["negative", "positive"]
    assert raw.train.x.shape == (40, 256) and raw.train.x.dtype == np.int32
    assert raw.vocab_size == 500 and raw.train.x.max() < 500
    assert (raw.train.x[:, 0] == 1).all()  # the start mark survives the cut
    spec = data.load(keras_config("imdb", vocab_size=500, sequence_length=64), 0).input_spec
    assert (spec.kind, spec.shape, spec.vocab_size) == ("tokens", (64,), 500)


def test_keras_reuters_class_names_come_from_keras(monkeypatch):
    monkeypatch.setattr(keras.datasets.reuters, "load_data", fake_reviews)
    raw = data.keras_source.load(keras_config("reuters"), 0)
    assert len(raw.class_names) == 46 and raw.class_names[0] == "cocoa"
    assert raw.vocab_size == 10_000


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
    with pytest.raises(ConfigError, match="did you mean 'cifar10'"):
        data.load(keras_config("cifar1O"), 0)
