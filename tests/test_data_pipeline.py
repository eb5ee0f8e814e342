"""pipeline.make_bundle: split cutting, training-only statistics, and the tf.data pipelines."""

from __future__ import annotations

import numpy as np
import pytest

from bigmodel_cli.config.schema import DataConfig
from bigmodel_cli.data import pipeline, splits
from bigmodel_cli.data.spec import InputSpec, RawData, Split
from bigmodel_cli.errors import DataError


def vector_data(count=100, features=3, classes=4, seed=0) -> RawData:
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 2.0, (count, features)).astype(np.float32)
    y = np.arange(count) % classes
    return RawData(train=Split(x, y), input_kind="vector", task="multiclass",
                   class_names=[f"c{i}" for i in range(classes)])


def bundle(raw, seed=0, **settings):
    return pipeline.make_bundle(raw, DataConfig(**settings), seed)


def all_examples(dataset):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


# --- splits ---------------------------------------------------------------------------------

def test_split_sizes_add_up():
    result = bundle(vector_data(200), validation_split=0.1, test_split=0.2)
    assert result.sizes == {"train": 140, "validation": 20, "test": 40}
    for name, size in result.sizes.items():
        assert len(all_examples(result.split(name))[1]) == size


def test_cut_is_deterministic_for_a_seed_and_disjoint():
    raw = vector_data(200)
    first, again, other = bundle(raw, seed=3), bundle(raw, seed=3), bundle(raw, seed=4)
    first_test, other_test = all_examples(first.test)[0], all_examples(other.test)[0]
    assert np.array_equal(first_test, all_examples(again.test)[0])
    assert not np.array_equal(first_test, other_test)
    rows = [tuple(row) for name in ("train", "validation", "test")
            for row in all_examples(first.split(name))[0]]
    assert len(set(rows)) == 200  # every example lands in exactly one split


def test_cut_keeps_class_balance():
    raw = vector_data(400, classes=4)
    held_out = bundle(raw, validation_split=0.1, test_split=0.2)
    assert np.bincount(all_examples(held_out.test)[1]).tolist() == [20, 20, 20, 20]
    assert np.bincount(all_examples(held_out.validation)[1]).tolist() == [10, 10, 10, 10]


def test_zero_fractions_give_no_validation_and_no_test():
    result = bundle(vector_data(50), validation_split=0, test_split=0)
    assert result.validation is None and result.test is None
    assert result.sizes == {"train": 50, "validation": 0, "test": 0}


def test_existing_splits_are_kept_not_cut():
    raw = vector_data(100)
    raw.test = Split(np.zeros((7, 3), np.float32), np.zeros(7, np.int64))
    result = bundle(raw, validation_split=0.1, test_split=0.5)
    assert result.sizes == {"train": 90, "validation": 10, "test": 7}


def test_max_examples_caps_train_only():
    result = bundle(vector_data(200), max_examples=30, validation_split=0.1, test_split=0.2)
    assert result.sizes == {"train": 30, "validation": 20, "test": 40}


def test_too_few_examples_is_a_data_error():
    with pytest.raises(DataError, match="only 3 training examples"):
        bundle(vector_data(3), validation_split=0.5, test_split=0.5)


def test_regression_cut_and_float_labels():
    raw = vector_data(50)
    raw.task, raw.class_names = "regression", []
    raw.train.y = np.linspace(0, 1, 50)
    result = bundle(raw)
    _, labels = next(iter(result.train))
    assert labels.dtype.name == "float32"
    assert result.target.task == "regression" and result.target.num_classes == 0


def test_held_out_splits_are_stratified_disjoint_and_seeded():
    labels = np.array([0] * 300 + [1] * 100 + [2] * 20)
    train = Split(x=np.arange(420, dtype=np.float32)[:, None], y=labels)

    def cut(seed):
        return splits.cut_splits(train, None, None, validation_fraction=0.1, test_fraction=0.2,
                                 task="multiclass", seed=seed)

    rest, validation, test = cut(7)
    ids = [split.x[:, 0].astype(int) for split in (rest, validation, test)]
    assert sorted(np.concatenate(ids).tolist()) == list(range(420))  # each example once
    # The class balance of the whole (15:5:1) in every split, to one example.
    assert np.bincount(test.y).tolist() == [60, 20, 4]
    assert np.bincount(validation.y).tolist() == [30, 10, 2]
    again = cut(7)
    assert all(np.array_equal(a.x, b.x)
               for a, b in zip(again, (rest, validation, test), strict=True))
    assert not np.array_equal(cut(8)[2].x, test.x)


def test_a_class_too_small_to_stratify_is_cut_at_random():
    labels = np.array([0] * 30 + [1])  # one example of class 1: no stratified cut exists
    train = Split(x=np.arange(31, dtype=np.float32)[:, None], y=labels)
    rest, _, test = splits.cut_splits(train, None, None, validation_fraction=0, test_fraction=0.2,
                                      task="multiclass", seed=1)
    assert (len(rest), len(test)) == (25, 6)


# --- input specs ----------------------------------------------------------------------------

def test_vector_statistics_come_from_train_only():
    raw = vector_data(100)
    raw.test = Split(np.full((5, 3), 1000.0, np.float32), np.zeros(5, np.int32))
    spec = bundle(raw, test_split=0.2).input_spec
    raw.test.x[:] = -1000.0
    assert bundle(raw, test_split=0.2).input_spec == spec
    train_x = all_examples(bundle(raw, test_split=0.2).train)[0]
    assert np.allclose(spec.mean, train_x.mean(axis=0), atol=1e-4)
    assert np.allclose(spec.variance, train_x.var(axis=0), rtol=1e-4)
    assert spec.kind == "vector" and spec.shape == (3,) and spec.dtype == "float32"


def test_constant_feature_gets_variance_one():
    raw = vector_data(40)
    raw.train.x[:, 1] = 7.0
    spec = bundle(raw).input_spec
    assert spec.variance[1] == 1.0 and spec.mean[1] == pytest.approx(7.0)


def test_image_pixels_stay_raw_with_a_scale():
    x = np.random.default_rng(0).integers(0, 256, (40, 6, 5), dtype=np.uint8)
    raw = RawData(Split(x, np.arange(40) % 2), "image", "binary", ["a", "b"])
    result = bundle(raw, batch_size=8)
    images, labels = next(iter(result.train))
    assert images.shape == (8, 6, 5, 1) and images.dtype.name == "float32"
    assert labels.dtype.name == "int32"
    assert images.numpy().max() > 1.0  # not rescaled in the pipeline
    assert result.input_spec.shape == (6, 5, 1)
    assert result.input_spec.scale == pytest.approx(1 / 255)


def test_tokens_are_padded_and_cut_at_the_end():
    sequences = np.array([[1, 5, 6], [1, 7], [1, 2, 3, 4, 9]], dtype=object)
    raw = RawData(Split(sequences, np.array([0, 1, 0])), "tokens", "binary", ["a", "b"])
    result = bundle(raw, sequence_length=4, validation_split=0, test_split=0)
    x, _ = all_examples(result.train)
    assert sorted(map(tuple, x.tolist())) == [(1, 2, 3, 4), (1, 5, 6, 0), (1, 7, 0, 0)]
    assert x.dtype == np.int32
    spec = result.input_spec
    assert (spec.shape, spec.sequence_length, spec.vocab_size) == ((4,), 4, 8)  # max id 7 + 1


def test_token_vocab_size_from_config_and_range_check():
    raw = RawData(Split(np.array([[1, 2], [3, 4]]), np.array([0, 1])), "tokens", "binary",
                  ["a", "b"])
    settings = {"validation_split": 0, "test_split": 0}
    assert bundle(raw, vocab_size=50, **settings).input_spec.vocab_size == 50
    assert bundle(raw, **settings).input_spec.sequence_length == 2  # the longest sequence
    with pytest.raises(DataError, match="outside the vocabulary"):
        bundle(raw, vocab_size=3, **settings)


def text_data() -> RawData:
    train = np.array(["red apple pie", "green apple", "red car", "green tea"] * 5, dtype=object)
    return RawData(Split(train, np.arange(20) % 2), "text", "binary", ["no", "yes"],
                   test=Split(np.array(["purple zebra", "red zebra"], dtype=object),
                              np.array([0, 1])))


def test_text_vocabulary_from_train_only_and_reusable():
    import keras

    result = bundle(text_data(), validation_split=0, sequence_length=6)
    spec = result.input_spec
    assert set(spec.vocabulary) == {"red", "apple", "pie", "green", "car", "tea"}
    assert (spec.shape, spec.dtype, spec.sequence_length) == ((), "string", 6)
    assert spec.vocab_size == len(spec.vocabulary) + 2
    texts, labels = next(iter(result.test))
    assert texts.dtype.name == "string" and labels.dtype.name == "int32"
    assert texts.numpy()[0].decode() == "purple zebra"
    rebuilt = keras.layers.TextVectorization(vocabulary=spec.vocabulary, output_sequence_length=6)
    assert rebuilt.get_vocabulary()[2:] == spec.vocabulary
    assert rebuilt(["red apple zebra"]).numpy()[0].tolist()[:3] == [
        spec.vocabulary.index("red") + 2, spec.vocabulary.index("apple") + 2, 1]


def test_text_vocabulary_respects_vocab_size():
    spec = bundle(text_data(), validation_split=0, vocab_size=5).input_spec
    assert len(spec.vocabulary) == 3  # 5 minus the two reserved entries


def test_input_spec_round_trips_through_a_dict():
    spec = bundle(vector_data()).input_spec
    assert InputSpec.from_dict(spec.to_dict()) == spec


# --- tf.data pipelines ----------------------------------------------------------------------

def test_batches_shapes_and_dtypes():
    result = bundle(vector_data(100), batch_size=16, validation_split=0.2, test_split=0)
    batches = list(result.train)
    assert [len(labels) for _, labels in batches] == [16] * 5
    features, labels = batches[0]
    assert features.shape == (16, 3) and features.dtype.name == "float32"
    assert labels.dtype.name == "int32"


def test_train_is_reshuffled_each_epoch_and_evaluation_is_not():
    result = bundle(vector_data(100), batch_size=100, validation_split=0.3, test_split=0)
    first_epoch, second_epoch = (all_examples(result.train)[0] for _ in range(2))
    assert not np.array_equal(first_epoch, second_epoch)
    assert np.array_equal(all_examples(result.validation)[0], all_examples(result.validation)[0])


def test_a_tiny_keras_model_learns_from_the_bundle():
    import keras

    from bigmodel_cli.data import synthetic

    config = DataConfig(kind="vector", num_classes=4, num_examples=400, batch_size=32)
    result = pipeline.make_bundle(synthetic.load(config, 0), config, 0)
    spec = result.input_spec
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(spec.shape),
        keras.layers.Normalization(mean=spec.mean, variance=spec.variance),
        keras.layers.Dense(4, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(result.train, epochs=3, verbose=0, shuffle=False)  # the pipeline shuffles
    assert model.evaluate(result.test, verbose=0, return_dict=True)["accuracy"] > 0.6
