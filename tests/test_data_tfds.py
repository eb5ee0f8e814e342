"""The tfds source, offline: `tfds.testing.mock_data` generates examples from the real
features of a dataset (no download, no prepared files), which is all the source needs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow_datasets as tfds

from bigmodel_cli import data
from bigmodel_cli.config.schema import DataConfig
from bigmodel_cli.errors import ConfigError, DataError


def tfds_config(name, data_dir, **settings):
    return DataConfig(source="tfds", name=name, data_dir=str(data_dir), **settings)


def test_tfds_image_dataset(tmp_path):
    with tfds.testing.mock_data(num_examples=12):
        raw = data.tfds_source.load(tfds_config("mnist", tmp_path), 0)
        result = data.load(tfds_config("mnist", tmp_path, batch_size=4), 0)
    assert raw.input_kind == "image" and raw.task == "multiclass"
    assert raw.class_names == [str(digit) for digit in range(10)]
    # Streams, not arrays; validation is sliced off train's front by tfds (mock data ignores
    # the slice: tests/test_data_streaming.py checks the cut on a dataset prepared for real).
    assert (raw.train.shape, raw.train.dtype, raw.test.count) == ((28, 28, 1), "uint8", 12)
    assert "train[0:1]" in raw.validation.key and "train[1:12]" in raw.train.key
    assert result.sizes["test"] == 12
    images, labels = next(iter(result.train))
    assert images.shape == (4, 28, 28, 1) and labels.dtype.name == "int32"


def test_tfds_text_dataset_with_named_splits(tmp_path):
    splits = {"train": "train[:80%]", "validation": "train[80%:]", "test": None}
    with tfds.testing.mock_data(num_examples=10):
        raw = data.tfds_source.load(tfds_config("imdb_reviews", tmp_path, splits=splits), 0)
        assert raw.input_kind == "text" and raw.task == "binary"
        assert raw.class_names == ["neg", "pos"]
        # test is cut from a train split that is already sliced: a window of its stream.
        assert (raw.train.count, raw.validation.count, raw.test.count) == (8, 10, 2)
        texts = [text for text, _ in raw.train.read()]
        assert len(texts) == 8 and all(text.dtype.name == "string" for text in texts)
        result = data.pipeline.make_bundle(raw, tfds_config("imdb_reviews", tmp_path), 0)
        assert result.input_spec.kind == "text" and result.input_spec.vocabulary


def test_tfds_unknown_name_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError, match="unknown tfds dataset 'mnistt'; did you mean 'mnist'"):
        data.load(tfds_config("mnistt", tmp_path), 0)


def test_tfds_offline_prepare_is_one_line_with_data_dir(monkeypatch, tmp_path):
    def offline_prepare(self, *args, **kwargs):
        raise OSError("Failed to reach https://storage.googleapis.com\nmore detail")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline_prepare)
    with pytest.raises(DataError) as caught:
        data.load(tfds_config("mnist", tmp_path), 0)
    message = str(caught.value)
    assert "\n" not in message and "'mnist'" in message and str(tmp_path) in message
    assert "tfds build mnist --data_dir" in message


def test_tfds_unknown_config_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="known configs: plain_text"):
        data.load(tfds_config("imdb_reviews/nope", tmp_path), 0)


def fake_info(input_feature, label_feature):
    features = {"input": input_feature, "label": label_feature}
    return SimpleNamespace(supervised_keys=("input", "label"), features=features)


def test_tfds_numeric_features_are_vectors_and_float_labels_regression():
    info = fake_info(tfds.features.Tensor(shape=(4,), dtype=np.float32),
                     tfds.features.Tensor(shape=(), dtype=np.float32))
    assert data.tfds_source.describe_features("table", info) == ("vector", [], "regression")


@pytest.mark.parametrize("input_feature, label_feature, message", [
    (tfds.features.Image(shape=(None, None, 3)), tfds.features.ClassLabel(num_classes=3),
     "varying size"),
    (tfds.features.Tensor(shape=(None,), dtype=np.int64), tfds.features.ClassLabel(num_classes=3),
     "not an image, text or number tensor"),
    (tfds.features.Text(), tfds.features.Text(), "neither a ClassLabel"),
])
def test_tfds_unsupported_features_are_data_errors(input_feature, label_feature, message):
    with pytest.raises(DataError, match=message):
        data.tfds_source.describe_features("odd", fake_info(input_feature, label_feature))


def test_tfds_dataset_without_supervised_keys():
    info = SimpleNamespace(supervised_keys=None, features={})
    with pytest.raises(DataError, match="no \\(input, label\\) supervised keys"):
        data.tfds_source.describe_features("unlabeled", info)
