"""The synthetic source: every kind and task, determinism, and a real learnability check."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split

from bigmodel_cli.config.schema import DataConfig
from bigmodel_cli.data import synthetic
from bigmodel_cli.errors import ConfigError


def raw_data(seed: int = 0, **settings):
    return synthetic.load(DataConfig(**{"num_examples": 300, **settings}), seed)


@pytest.mark.parametrize("kind, shape, dtype", [
    ("vector", (16,), np.float32),
    ("image", (8, 8, 1), np.uint8),
    ("tokens", (32,), np.int32),
    ("text", (), object),
])
def test_default_shapes_and_dtypes(kind, shape, dtype):
    raw = raw_data(kind=kind, num_classes=4)
    assert raw.input_kind == kind
    assert raw.train.x.shape == (300, *shape)
    assert raw.train.x.dtype == dtype
    assert raw.train.y.dtype == np.int32
    assert raw.validation is None and raw.test is None


@pytest.mark.parametrize("num_classes, task, names", [
    (1, "regression", []),
    (2, "binary", ["class_0", "class_1"]),
    (3, "multiclass", ["class_0", "class_1", "class_2"]),
])
def test_task_and_class_names_follow_num_classes(num_classes, task, names):
    raw = raw_data(kind="vector", num_classes=num_classes)
    assert raw.task == task
    assert raw.class_names == names
    if task == "regression":
        assert raw.train.y.dtype == np.float32
    else:
        assert sorted(np.unique(raw.train.y)) == list(range(num_classes))


@pytest.mark.parametrize("kind", ["vector", "image", "tokens", "text"])
def test_same_seed_same_data_other_seed_other_data(kind):
    first, again, other = raw_data(1, kind=kind), raw_data(1, kind=kind), raw_data(2, kind=kind)
    assert np.array_equal(first.train.x, again.train.x)
    assert np.array_equal(first.train.y, again.train.y)
    assert not np.array_equal(first.train.x, other.train.x)


def test_negative_seed_is_accepted():
    assert len(raw_data(-5).train) == 300


def test_custom_shapes():
    assert raw_data(kind="vector", input_shape=[5]).train.x.shape == (300, 5)
    assert raw_data(kind="image", input_shape=[6, 4]).train.x.shape == (300, 6, 4, 1)
    assert raw_data(kind="image", input_shape=[4, 4, 3]).train.x.shape == (300, 4, 4, 3)
    tokens = raw_data(kind="tokens", input_shape=[10], vocab_size=20)
    assert tokens.train.x.shape == (300, 10)
    assert tokens.vocab_size == 20
    assert 0 <= tokens.train.x.min() and tokens.train.x.max() < 20


def test_tokens_end_with_padding():
    sequences = raw_data(kind="tokens").train.x
    assert (sequences[:, 0] != 0).all()  # every sequence has at least one token
    lengths = (sequences != 0).sum(axis=1)
    # Zeros only at the end: the first len tokens are all non-zero.
    assert all((row[:length] != 0).all() for row, length in zip(sequences, lengths, strict=True))
    assert lengths.min() < 32  # some sequences really are padded


def test_text_sentences_have_8_to_16_words():
    counts = [len(sentence.split()) for sentence in raw_data(kind="text").train.x]
    assert min(counts) >= 8 and max(counts) <= 16
    assert all(isinstance(sentence, str) for sentence in raw_data(kind="text").train.x[:5])


@pytest.mark.parametrize("settings, message", [
    ({"kind": "vector", "input_shape": [4, 4]}, "one number"),
    ({"kind": "image", "input_shape": [8]}, "height, width"),
    ({"kind": "text", "input_shape": [8]}, "sequence_length"),
    ({"kind": "tokens", "vocab_size": 1}, "at least 2"),
])
def test_bad_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        raw_data(**settings)


# --- learnability: a linear model on simple features must beat chance by a wide margin ------

def features(raw):
    x = raw.train.x
    if raw.input_kind == "image":
        return x.reshape(len(x), -1) / 255
    if raw.input_kind == "tokens":
        return np.stack([np.bincount(row, minlength=raw.vocab_size) for row in x])
    if raw.input_kind == "text":
        return CountVectorizer().fit_transform(x)
    return (x - x.mean(axis=0)) / x.std(axis=0)


@pytest.mark.parametrize("kind", ["vector", "image", "tokens", "text"])
@pytest.mark.parametrize("num_classes", [2, 10])
def test_classes_are_learnable(kind, num_classes):
    raw = raw_data(3, kind=kind, num_classes=num_classes, num_examples=400)
    x_train, x_test, y_train, y_test = train_test_split(
        features(raw), raw.train.y, test_size=0.3, random_state=0)
    accuracy = LogisticRegression(max_iter=1000).fit(x_train, y_train).score(x_test, y_test)
    chance = 1 / num_classes
    assert accuracy > chance + 0.3, f"{kind}: accuracy {accuracy:.2f}, chance {chance:.2f}"


@pytest.mark.parametrize("kind, minimum_r2", [
    ("vector", 0.8), ("image", 0.8), ("tokens", 0.4), ("text", 0.2)])
def test_regression_targets_are_learnable(kind, minimum_r2):
    raw = raw_data(3, kind=kind, num_classes=1, num_examples=400)
    x_train, x_test, y_train, y_test = train_test_split(
        features(raw), raw.train.y, test_size=0.3, random_state=0)
    assert LinearRegression().fit(x_train, y_train).score(x_test, y_test) > minimum_r2
