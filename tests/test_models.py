"""Model builders: every family on every input kind it supports trains, saves and reloads.

Each round trip builds a tiny model, fits two steps, saves a `.keras` file, reloads it in safe
mode and checks that the predictions are unchanged. Then heads, errors and the custom layers.
"""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from bigmodel_cli import tasks
from bigmodel_cli.config.schema import CnnConfig, MlpConfig, RnnConfig, TransformerConfig
from bigmodel_cli.data.spec import InputSpec, TargetSpec
from bigmodel_cli.errors import ConfigError
from bigmodel_cli.models import MODELS, build_model
from bigmodel_cli.models.layers import (
    MaskedGlobalPooling1D,
    TokenAndPositionEmbedding,
    TransformerEncoder,
)
from bigmodel_cli.models.preprocessing import vocabulary_size
from bigmodel_cli.names import MODEL_FAMILIES

WORDS = ["the", "cat", "dog", "sat", "on", "mat", "ran", "far", "a", "big"]
SEQUENCE_LENGTH = 7
EXAMPLES = 8
BATCH = 4  # 8 examples in batches of 4: two training steps

# Keras's model.save converts TF variables with np.array(x), which numpy 2 warns about (once
# per weight); the warning is Keras's own, not this package's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def make_spec(kind: str) -> InputSpec:
    if kind == "vector":
        return InputSpec("vector", (5,), "float32", mean=[1.0] * 5, variance=[4.0] * 5)
    if kind == "image":
        return InputSpec("image", (8, 8, 1), "float32", scale=1 / 255)
    if kind == "tokens":
        return InputSpec("tokens", (SEQUENCE_LENGTH,), "int32", vocab_size=20)
    return InputSpec("text", (), "string", vocabulary=WORDS, sequence_length=SEQUENCE_LENGTH)


def make_inputs(spec: InputSpec, count: int = EXAMPLES) -> np.ndarray:
    generator = np.random.default_rng(0)
    if spec.kind == "vector":
        return generator.normal(1.0, 2.0, (count, *spec.shape)).astype("float32")
    if spec.kind == "image":
        return generator.integers(0, 256, (count, *spec.shape)).astype("float32")
    if spec.kind == "tokens":
        ids = generator.integers(1, spec.vocab_size, (count, *spec.shape))
        ids[:, 4:] = 0  # padded tail, as the data pipeline writes it
        return ids.astype("int32")
    # Raw strings as a 1-D object array; one word is out of the vocabulary.
    sentences = [" ".join(generator.choice(WORDS + ["zebra"], size=5)) for _ in range(count)]
    return np.array(sentences, dtype=object)


def make_labels(task: str, count: int = EXAMPLES) -> np.ndarray:
    generator = np.random.default_rng(1)
    if task == "regression":
        return generator.normal(size=count).astype("float32")
    return generator.integers(0, 3 if task == "multiclass" else 2, count).astype("int32")


TARGETS = {
    "multiclass": TargetSpec("multiclass", ["a", "b", "c"]),
    "binary": TargetSpec("binary", ["no", "yes"]),
    "regression": TargetSpec("regression", []),
}

# (test id, config, input kinds it supports). Variants cover the options of each family.
FAMILY_CASES = [
    ("mlp", MlpConfig(family="mlp", hidden_units=[8], dense_units=[4], dropout=0.1),
     ["vector", "image", "tokens", "text"]),
    ("mlp-batch-norm", MlpConfig(family="mlp", hidden_units=[8, 4], batch_norm=True),
     ["vector"]),
    ("cnn", CnnConfig(family="cnn", filters=[4, 8], dense_units=[8]),
     ["image", "tokens", "text"]),
    ("cnn-variants", CnnConfig(family="cnn", filters=[4], dense_units=[], batch_norm=True,
                               pooling="average", global_pooling=True),
     ["image", "text"]),
    ("rnn", RnnConfig(family="rnn", units=4, embedding_dim=4),
     ["vector", "image", "tokens", "text"]),
    ("rnn-variants", RnnConfig(family="rnn", cell="gru", units=4, num_layers=2,
                               bidirectional=True, dropout=0.1, embedding_dim=4),
     ["tokens"]),
    ("transformer", TransformerConfig(family="transformer", embed_dim=8, num_heads=2, ff_dim=8),
     ["vector", "image", "tokens", "text"]),
    ("transformer-max", TransformerConfig(family="transformer", embed_dim=8, num_heads=2,
                                          ff_dim=8, num_layers=2, pooling="max"),
     ["text"]),
]


def family_config(name: str):
    return next(config for case, config, _ in FAMILY_CASES if case == name)


ROUND_TRIPS = [
    pytest.param(config, kind, id=f"{name}-{kind}")
    for name, config, kinds in FAMILY_CASES for kind in kinds
]


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def compile_arguments(task: str) -> dict:
    return tasks.get(task).compile_arguments(TARGETS[task])


def build_and_fit(spec, task, config, run_eagerly=True):
    # Eager steps by default: tracing a graph per tiny model would dominate the test time.
    # test_fit_in_graph_mode covers the traced path that the runner uses.
    model = build_model(spec, TARGETS[task], config)
    model.compile(optimizer="adam", run_eagerly=run_eagerly, **compile_arguments(task))
    inputs = make_inputs(spec)
    history = model.fit(inputs, make_labels(task), batch_size=BATCH, epochs=1, verbose=0)
    return model, inputs, history


@pytest.mark.parametrize(("config", "kind"), ROUND_TRIPS)
def test_fit_save_and_reload_in_safe_mode(config, kind, tmp_path):
    model, inputs, history = build_and_fit(make_spec(kind), "multiclass", config)
    assert np.isfinite(history.history["loss"][-1])
    # Direct calls rather than predict(): no graph to trace, and the same weights in use.
    before = keras.ops.convert_to_numpy(model(inputs, training=False))
    path = tmp_path / "m.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    after = keras.ops.convert_to_numpy(reloaded(inputs, training=False))
    assert before.shape == (EXAMPLES, 3)
    np.testing.assert_allclose(after, before, atol=1e-5)


@pytest.mark.parametrize(("config", "kind"), [
    pytest.param(family_config("transformer"), "text", id="transformer-text"),
    pytest.param(family_config("cnn"), "image", id="cnn-image"),
])
def test_fit_in_graph_mode(config, kind):
    spec = make_spec(kind)
    model, inputs, history = build_and_fit(spec, "multiclass", config, run_eagerly=False)
    assert np.isfinite(history.history["loss"][-1])
    np.testing.assert_allclose(model.predict(inputs, verbose=0), model(inputs), atol=1e-5)


@pytest.mark.parametrize("name", ["mlp", "cnn", "rnn", "transformer", "transformer-max"])
def test_all_padding_text_gives_finite_predictions(name):
    model = build_model(make_spec("text"), TARGETS["multiclass"], family_config(name))
    # An empty string and unknown words only: every position is padding or out-of-vocabulary.
    outputs = keras.ops.convert_to_numpy(model(np.array(["", "zebra zebra"], dtype=object)))
    assert np.isfinite(outputs).all()


def test_text_model_takes_a_flat_batch_of_raw_strings():
    spec = make_spec("text")
    model = build_model(spec, TARGETS["binary"], MlpConfig(family="mlp", hidden_units=[4]))
    # One string per example: the saved model's input is (batch,), not (batch, 1).
    assert tuple(model.inputs[0].shape) == (None,)
    sentences = np.array(["the cat sat on the mat", "zebra", ""], dtype=object)
    predictions = model.predict(sentences, verbose=0)
    assert predictions.shape == (3, 1)
    np.testing.assert_allclose(model(sentences), predictions, atol=1e-6)
    assert np.isfinite(predictions).all()  # the empty string is all padding


@pytest.mark.parametrize("vocabulary", [WORDS, ["", "[UNK]", *WORDS]], ids=["plain", "special"])
def test_text_vocabulary_size_matches_text_vectorization(vocabulary):
    spec = InputSpec("text", (), "string", vocabulary=vocabulary, sequence_length=4)
    model = build_model(spec, TARGETS["binary"], MlpConfig(family="mlp", hidden_units=[4]))
    vectorize = model.get_layer("vectorize")
    assert vectorize.vocabulary_size() == vocabulary_size(spec) == len(WORDS) + 2
    assert model.get_layer("embedding").input_dim == vocabulary_size(spec)
    ids = keras.ops.convert_to_numpy(vectorize(np.array(["cat zebra"], dtype=object)))
    assert ids.tolist() == [[WORDS.index("cat") + 2, 1, 0, 0]]  # word, out-of-vocabulary, padding


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_head_shape_range_and_float32(task):
    spec = make_spec("vector")
    model, inputs, history = build_and_fit(spec, task, MlpConfig(family="mlp", hidden_units=[4]))
    metric = "mae" if task == "regression" else "accuracy"
    assert metric in history.history
    head = model.get_layer("standardized" if task == "regression" else "predictions")
    assert model.layers[-1].name == "predictions"
    assert head.dtype_policy.compute_dtype == "float32"
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"
    outputs = keras.ops.convert_to_numpy(model(inputs))
    if task == "multiclass":
        assert outputs.shape == (EXAMPLES, 3)
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0, atol=1e-5)
    elif task == "binary":
        assert outputs.shape == (EXAMPLES, 1)
        assert ((outputs >= 0) & (outputs <= 1)).all()
    else:
        assert outputs.shape == (EXAMPLES, 1)
        assert head.activation is keras.activations.linear


@pytest.mark.parametrize("family", ["cnn", "transformer"])
def test_output_stays_float32_under_mixed_precision(family):
    config = {"cnn": CnnConfig(family="cnn", filters=[4], dense_units=[4]),
              "transformer": TransformerConfig(family="transformer", embed_dim=8, num_heads=2,
                                               ff_dim=8)}[family]
    kind = "image" if family == "cnn" else "text"
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(make_spec(kind), TARGETS["multiclass"], config)
        outputs = model(make_inputs(make_spec(kind)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    body = model.get_layer("conv_0" if family == "cnn" else "encoder_0")
    assert body.compute_dtype == "float16"
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs).sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(("task", "loss", "metric"), [
    ("multiclass", keras.losses.SparseCategoricalCrossentropy, "accuracy"),
    ("binary", keras.losses.BinaryCrossentropy, "accuracy"),
    ("regression", keras.losses.MeanSquaredError, "mae"),  # of standardized targets
])
def test_compile_arguments(task, loss, metric):
    arguments = compile_arguments(task)
    assert isinstance(arguments["loss"], loss)
    assert [each.name for each in arguments["metrics"]] == [metric]
    # Fresh objects each call: metrics hold state and must be created inside a strategy scope.
    assert compile_arguments(task)["metrics"][0] is not arguments["metrics"][0]


def test_resolve_task_prefers_the_config_unless_auto():
    binary = TargetSpec("binary", ["no", "yes"])
    assert tasks.resolve(binary, MlpConfig(family="mlp").task).name == "binary"
    assert tasks.resolve(binary, "multiclass").name == "multiclass"


def test_binary_data_can_train_a_two_class_softmax():
    config = MlpConfig(family="mlp", task="multiclass", hidden_units=[4])
    model = build_model(make_spec("vector"), TARGETS["binary"], config)
    assert model.output_shape == (None, 2)


FIVE_CLASSES = TargetSpec("multiclass", list("abcde"))
CONFIG_ERRORS = [
    pytest.param(make_spec("vector"), FIVE_CLASSES, MlpConfig(family="mlp", task="binary"),
                 "'binary' needs 2 classes, but the data has 5 classes; use task: multiclass",
                 id="binary-with-five-classes"),
    pytest.param(make_spec("vector"), FIVE_CLASSES, MlpConfig(family="mlp", task="regression"),
                 "needs continuous targets, but the data has 5 classes",
                 id="regression-on-classes"),
    pytest.param(make_spec("vector"), TARGETS["regression"],
                 MlpConfig(family="mlp", task="multiclass"),
                 "needs class labels .*, but the data has continuous targets; use task: regression",
                 id="classes-on-values"),
    pytest.param(make_spec("vector"), FIVE_CLASSES, CnnConfig(family="cnn"),
                 "'cnn' needs image, tokens or text inputs, got vector inputs; use family: mlp",
                 id="cnn-on-vector"),
    pytest.param(InputSpec("text", (), "string", vocabulary=WORDS), FIVE_CLASSES,
                 TransformerConfig(family="transformer"),
                 "'transformer' needs sequences of a fixed length; set data.sequence_length",
                 id="transformer-without-length"),
    pytest.param(InputSpec("tokens", (5,), "int32"), FIVE_CLASSES, RnnConfig(family="rnn"),
                 "token inputs need vocab_size", id="tokens-without-vocabulary-size"),
    pytest.param(InputSpec("text", (), "string", sequence_length=5), FIVE_CLASSES,
                 RnnConfig(family="rnn"), "text inputs need a vocabulary", id="text-without-words"),
]


@pytest.mark.parametrize(("spec", "target", "config", "message"), CONFIG_ERRORS)
def test_config_errors_are_one_clear_line(spec, target, config, message):
    with pytest.raises(ConfigError, match=message) as raised:
        build_model(spec, target, config)
    assert "\n" not in str(raised.value)


def test_unknown_family_suggests_the_closest_name():
    config = SimpleNamespace(family="cnm", task="auto", dense_units=[], dropout=0.0)
    with pytest.raises(ConfigError) as raised:
        build_model(make_spec("image"), FIVE_CLASSES, config)
    assert str(raised.value) == (
        "unknown model family 'cnm'; did you mean 'cnn'? "
        f"known: {', '.join(sorted(MODEL_FAMILIES))}")
    assert list(MODELS) == list(MODEL_FAMILIES)


@pytest.mark.parametrize(("shape", "flattened"), [
    ((32, 32, 3), 6 * 6 * 64),  # the classic CIFAR-10 convnet: 32 -> 30 -> 15 -> 13 -> 6
    ((28, 28, 1), 5 * 5 * 64),  # MNIST: 28 -> 26 -> 13 -> 11 -> 5
    ((8, 8, 1), 1 * 1 * 64),  # sklearn digits: 8 -> 6 -> 3 -> 3 ("same") -> 1
    ((2, 2), 1 * 1 * 64),  # smaller than the kernel, and no channel axis
])
def test_cnn_defaults_fit_any_image_size(shape, flattened):
    spec = InputSpec("image", shape, "float32", scale=1 / 255)
    model = build_model(spec, FIVE_CLASSES, CnnConfig(family="cnn"))
    assert model.get_layer("flatten").output.shape == (None, flattened)
    assert model.get_layer("dense_0").units == 128  # dense_units come from build_model
    assert model(np.zeros((1, *shape), "float32")).shape == (1, 5)


def test_dense_units_and_dropout_come_before_the_head():
    config = RnnConfig(family="rnn", units=4, dense_units=[8, 6], dropout=0.2)
    model = build_model(make_spec("tokens"), FIVE_CLASSES, config)
    names = [layer.name for layer in model.layers]
    assert names[-5:] == ["dense_0", "dense_0_dropout", "dense_1", "dense_1_dropout",
                          "predictions"]
    assert model.get_layer("embedding").mask_zero  # the LSTM skips padding


# --- the custom layers ---------------------------------------------------------------------

def test_encoder_ignores_what_is_at_padded_positions():
    encoder = TransformerEncoder(embed_dim=8, num_heads=2, ff_dim=16)
    generator = np.random.default_rng(2)
    sequence = generator.normal(size=(2, 5, 8)).astype("float32")
    changed = sequence.copy()
    changed[:, 3:] = generator.normal(size=(2, 2, 8))
    mask = np.array([[True, True, True, False, False]] * 2)
    before = keras.ops.convert_to_numpy(encoder(sequence, mask=mask))
    after = keras.ops.convert_to_numpy(encoder(changed, mask=mask))
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-5)
    # Without the mask the same change does reach the real positions.
    unmasked = keras.ops.convert_to_numpy(encoder(changed))
    assert not np.allclose(unmasked[:, :3], before[:, :3], atol=1e-3)


def test_token_and_position_embedding_masks_padding_and_knows_positions():
    embedding = TokenAndPositionEmbedding(vocabulary_size=10, sequence_length=4, embed_dim=6)
    ids = np.array([[3, 3, 0, 0]], dtype="int32")
    vectors = keras.ops.convert_to_numpy(embedding(ids))
    assert vectors.shape == (1, 4, 6)
    assert not np.allclose(vectors[0, 0], vectors[0, 1])  # same token, different position
    assert keras.ops.convert_to_numpy(embedding.compute_mask(ids)).tolist() == [
        [True, True, False, False]]


@pytest.mark.parametrize(("mode", "expected"), [("mean", [[2.0], [0.0]]), ("max", [[3.0], [0.0]])])
def test_masked_pooling_skips_padding_and_empty_rows(mode, expected):
    values = np.array([[[1.0], [3.0], [99.0]], [[-5.0], [99.0], [99.0]]], dtype="float32")
    mask = np.array([[True, True, False], [False, False, False]])
    pooled = MaskedGlobalPooling1D(mode)(values, mask=mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), expected)


@pytest.mark.parametrize("layer", [
    TokenAndPositionEmbedding(vocabulary_size=10, sequence_length=4, embed_dim=6),
    TransformerEncoder(embed_dim=8, num_heads=2, ff_dim=16, dropout=0.1),
    MaskedGlobalPooling1D("max"),
], ids=lambda layer: type(layer).__name__)
def test_layers_are_registered_with_flat_configs(layer):
    config = layer.get_config()
    assert keras.saving.get_registered_name(type(layer)) == f"bigmodel>{type(layer).__name__}"
    assert type(layer).from_config(config).get_config() == config
