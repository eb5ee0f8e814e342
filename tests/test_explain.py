"""bigmodel explain: integrated gradients add up to f(input) - f(baseline), an input the model
ignores gets nothing, the same input gives the same scores, each input kind writes its files,
and mistakes are one line with exit code 2.

Models are built in the test (random weights: attributions need no training) except for the
end-to-end image run, which trains the smoke CNN for one epoch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runner import CONFIGS, bigmodel

from bigmodel_cli.data.spec import TEXT, TOKENS, VECTOR, InputSpec, TargetSpec
from bigmodel_cli.predict import explain_render
from bigmodel_cli.predict.explain import explain_batch

CLASSES = TargetSpec(task="multiclass", class_names=["a", "b", "c"])
VECTOR_SPEC = InputSpec(kind=VECTOR, shape=(4,), dtype="float32")


def vector_model(ignored: int | None = None):
    """4 features -> tanh -> softmax over 3 classes; feature `ignored` has no weight at all, so
    the model cannot depend on it."""
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,), name="inputs")
    hidden_layer = keras.layers.Dense(8, activation="tanh")
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(
        hidden_layer(inputs))
    model = keras.Model(inputs, outputs)
    if ignored is not None:
        kernel = hidden_layer.kernel.numpy()
        kernel[ignored] = 0.0
        hidden_layer.kernel.assign(kernel)
    return model


def explain_one(model, spec, target, batch, method="integrated_gradients", steps=64,
                baseline="zeros", index=None, task="multiclass"):
    labels = [f"x{number}" for number in range(len(batch))]
    return explain_batch(model, spec, target, task, labels, batch, method, steps, baseline,
                         index)


def test_integrated_gradients_add_up_to_the_output_difference():
    model = vector_model()
    x = np.array([[1.5, -2.0, 0.7, 3.0]], dtype="float32")
    found, = explain_one(model, VECTOR_SPEC, CLASSES, x, index=1)
    # f(x) - f(baseline) computed here, with the model alone: class b's probability.
    difference = float(model(x)[0, 1] - model(np.zeros_like(x))[0, 1])
    assert found.attribution.value - found.attribution.baseline_value == pytest.approx(
        difference, abs=1e-6)
    assert abs(difference) > 0.01  # a real difference to explain
    assert found.attribution.total == pytest.approx(difference, abs=0.01 * abs(difference))
    assert found.attribution.gap_fraction < 0.01 and not found.attribution.gap_too_large
    # One step is a crude sum: the gap measure sees it, so the check above can fail.
    crude, = explain_one(model, VECTOR_SPEC, CLASSES, x, steps=1, index=1)
    assert crude.attribution.gap > 5 * found.attribution.gap
    assert [name for name, _, _ in found.parts] == [f"feature {n}" for n in range(4)]


@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "gradient_x_input"])
def test_a_feature_the_model_ignores_gets_no_attribution(method):
    x = np.array([[1.0, -1.0, 5.0, 2.0], [0.3, 0.2, -4.0, 1.0]], dtype="float32")
    for found in explain_one(vector_model(ignored=2), VECTOR_SPEC, CLASSES, x, method=method):
        scores = found.attribution.scores
        assert abs(scores[2]) < 1e-9
        assert np.all(np.abs(np.delete(scores, 2)) > 1e-7)


def test_tokens_are_attributed_through_the_embedding_with_the_padding_mask():
    from bigmodel_cli import models
    from bigmodel_cli.config.schema import RnnConfig

    spec = InputSpec(kind=TOKENS, shape=(6,), dtype="int32", vocab_size=20)
    model = models.build_model(spec, CLASSES, RnnConfig(family="rnn", units=4, embedding_dim=4))
    ids = np.array([[5, 9, 13, 2, 0, 0]], dtype="int32")
    found, = explain_one(model, spec, CLASSES, ids, baseline="pad")
    # The replaced embedding output reproduces the model's own prediction (mask included).
    assert found.predicted["probability"] == pytest.approx(float(np.max(model(ids))), abs=1e-6)
    assert found.attribution.value == pytest.approx(found.predicted["probability"], abs=1e-6)
    assert [name for name, _, _ in found.parts] == ["5", "9", "13", "2"]  # padding left out
    assert found.attribution.gap < max(0.02 * abs(found.attribution.value
                                                  - found.attribution.baseline_value), 1e-5)


def test_text_writes_html_and_json_with_the_words(tmp_path):
    from bigmodel_cli import models
    from bigmodel_cli.config.schema import TransformerConfig

    spec = InputSpec(kind=TEXT, shape=(), dtype="string", sequence_length=8,
                     vocabulary=["", "[UNK]", "the", "cat", "sat", "dog"])
    model = models.build_model(spec, CLASSES, TransformerConfig(
        family="transformer", embed_dim=8, ff_dim=8, num_heads=2, num_layers=1))
    texts = np.array(["The cat sat", "a zebra & the dog"], dtype=object)
    explanations = explain_one(model, spec, CLASSES, texts, baseline="pad", index=2)
    # Words as written, out-of-vocabulary ones too ("zebra"); "&" is no token at all.
    assert [name for name, _, _ in explanations[0].parts] == ["The", "cat", "sat"]
    assert [name for name, _, _ in explanations[1].parts] == ["a", "zebra", "the", "dog"]
    written = explain_render.write(explanations, tmp_path, ["html", "json"])
    assert [path.name for path in written] == ["explanations.html", "explanations.json"]
    page = (tmp_path / "explanations.html").read_text()
    for word in ("The", "cat", "sat", "zebra", "dog"):
        assert f">{word}</span>" in page, word
    assert page.count("completeness gap") == 2 and "&amp;" not in page  # "&" is no token
    rows = json.loads((tmp_path / "explanations.json").read_text())
    assert [part["name"] for part in rows[1]["parts"]] == ["a", "zebra", "the", "dog"]
    assert rows[0]["target"] == "c" and rows[0]["completeness_gap"] < 0.01
    assert "zebra" in explain_render.token_text(explanations[1]).plain


def test_table_writes_bar_charts_and_json_in_the_data_s_column_names(tmp_path):
    from test_data_csv import COLUMNS, csv_config, people, write_csv

    from bigmodel_cli import data, models
    from bigmodel_cli.config.schema import MlpConfig
    from bigmodel_cli.predict.inputs import read_inputs

    bundle = data.load(csv_config(write_csv(tmp_path / "p.csv", people()), columns=COLUMNS), 0)
    model = models.build_model(bundle.input_spec, bundle.target,
                               MlpConfig(family="mlp", hidden_units=[4]))
    rows = write_csv(tmp_path / "rows.csv", [("likes tea", "oslo", 31), ("", "rome", 20)],
                     header=("note", "city", "age"))
    labels, batch = read_inputs([str(rows)], bundle.input_spec)
    explanations = explain_batch(model, bundle.input_spec, bundle.target, bundle.target.task,
                                 labels, batch, "integrated_gradients", 64, "zeros", None)
    written = explain_render.write(explanations, tmp_path / "out", ["png", "json"])
    assert [path.name for path in written] == ["000-rows.csv_2.png", "001-rows.csv_3.png",
                                               "explanations.json"]
    for path in written[:2]:
        assert_real_png(path)
    found = json.loads(written[-1].read_text())
    assert [(part["name"], part["value"]) for part in found[0]["parts"]] == [
        ("age", "31"), ("city", "oslo"), ("note", "likes tea")]
    assert found[1]["parts"][2]["score"] == 0.0  # no words: nothing to attribute
    for row in found:
        assert row["completeness_gap"] < max(0.02 * abs(row["target_value"]
                                                        - row["baseline_value"]), 1e-5)


def assert_real_png(path, size=None):
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        if size is not None:
            assert image.size == size
        assert np.asarray(image.convert("L"), dtype=float).std() > 1.0


# --- the command, end to end, on a trained image run ---------------------------------------------

@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    result = bigmodel("train", CONFIGS / "smoke" / "cnn.yaml", "--run-dir", root / "run",
                      "--set", "training.epochs=1", "--set", "training.tensorboard=false")
    assert result.returncode == 0, result.stderr
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 1)).astype("float32")
    np.save(root / "two.npy", pixels)
    return root


def test_explain_writes_a_picture_per_image_a_grid_and_json(image_run):
    # The same file twice: the same input must give the same explanation.
    result = bigmodel("explain", image_run / "run", image_run / "two.npy", image_run / "two.npy",
                      "--output", image_run / "first")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("completeness gap") == 4
    names = sorted(path.name for path in (image_run / "first").iterdir())
    assert names == ["000-two.npy_0.png", "001-two.npy_1.png", "002-two.npy_0.png",
                     "003-two.npy_1.png", "explanations.json", "grid.png"]
    width, height = (round(inches * explain_render.DPI) for inches in explain_render.IMAGE_FIGURE)
    for name in names[:4]:
        assert_real_png(image_run / "first" / name, (width, height))
    assert_real_png(image_run / "first" / "grid.png")
    rows = json.loads((image_run / "first" / "explanations.json").read_text())
    assert np.asarray(rows[0]["heat_map"]).shape == (8, 8)
    assert rows[0]["baseline"] == "black" and rows[0]["steps"] == 64
    assert rows[0]["heat_map"] != rows[1]["heat_map"]
    assert rows[2] == rows[0] and rows[3] == rows[1]


@pytest.mark.parametrize(("options", "message"), [
    (["--target", "no_such_class"], "--target no_such_class: not a class of this run; use "
                                    "predicted or one of: class_0, class_1, class_2, class_3"),
    (["--baseline", "pad"], "--baseline pad: not for image inputs; use black or zeros or blur"),
    (["--format", "html"], "--format html: not for image inputs; use png or json"),
])
def test_mistakes_are_one_line_usage_errors(image_run, options, message):
    result = bigmodel("explain", image_run / "run", image_run / "two.npy", *options,
                      "--output", image_run / "never")
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not (image_run / "never").exists()


def test_a_linear_regression_is_explained_exactly_by_weight_times_input(tmp_path):
    import keras

    inputs = keras.Input((3,), name="inputs")
    layer = keras.layers.Dense(1, name="predictions")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([np.array([[2.0], [-1.0], [0.5]], "float32"), np.array([4.0], "float32")])
    spec = InputSpec(kind=VECTOR, shape=(3,), dtype="float32")
    x = np.array([[1.0, 3.0, -2.0]], dtype="float32")
    for steps in (1, 64):  # one step is already exact: the gradient is the same everywhere
        found, = explain_one(model, spec, TargetSpec(task="regression"), x, steps=steps,
                             task="regression")
        assert found.attribution.scores == pytest.approx([2.0, -3.0, -1.0], abs=1e-6)
        assert found.predicted == {"value": pytest.approx(2.0 - 3.0 - 1.0 + 4.0)}
        assert found.target == "value" and found.attribution.gap < 1e-6
    assert_real_png(explain_render.write([found], tmp_path, ["png"])[0])


def test_a_blurred_image_is_a_baseline():
    from bigmodel_cli import models
    from bigmodel_cli.config.schema import CnnConfig
    from bigmodel_cli.data.spec import IMAGE

    spec = InputSpec(kind=IMAGE, shape=(8, 8, 1), dtype="float32", scale=1 / 255)
    import keras

    keras.utils.set_random_seed(5)
    model = models.build_model(spec, CLASSES, CnnConfig(family="cnn", filters=[4],
                                                        dense_units=[8]))
    image = np.zeros((1, 8, 8, 1), "float32")
    image[0, 2:6, 3:5] = 255.0  # a bright bar: its blur is a gray smudge, not black
    black, = explain_one(model, spec, CLASSES, image, baseline="black", index=0)
    blurred, = explain_one(model, spec, CLASSES, image, baseline="blur", index=0)
    assert blurred.attribution.baseline_value != pytest.approx(black.attribution.baseline_value,
                                                                abs=1e-6)
    for found in (black, blurred):
        assert found.heat_map.shape == (8, 8) and not found.attribution.gap_too_large
    # The outside stays black under blur too, nearly: almost no attribution far from the bar.
    assert np.abs(blurred.heat_map[:, 7]).sum() < 0.1 * np.abs(blurred.heat_map).sum()


def test_too_few_steps_on_a_steep_model_are_flagged():
    """p(a) = sigmoid(10 x): one step sees the flat part only; 64 steps follow the curve."""
    import keras

    inputs = keras.Input((1,), name="inputs")
    layer = keras.layers.Dense(2, activation="softmax", name="predictions")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([np.array([[5.0, -5.0]], "float32"), np.zeros(2, "float32")])
    spec = InputSpec(kind=VECTOR, shape=(1,), dtype="float32")
    x = np.ones((1, 1), "float32")
    crude, = explain_one(model, spec, CLASSES, x, steps=1, index=0)
    fine, = explain_one(model, spec, CLASSES, x, steps=64, index=0)
    assert crude.attribution.gap_fraction > 0.5 and crude.attribution.gap_too_large
    assert fine.attribution.gap_fraction < 0.01 and not fine.attribution.gap_too_large
    assert "completeness gap" in explain_render.describe(crude)


def test_a_pretrained_backbone_is_attributed_through_its_token_embedding_words_merged():
    """The shape of a model.family: pretrained model (a keras-hub preprocessor layer, then a
    body model holding the backbone), with a tiny random BERT and its WordPiece tokenizer."""
    import keras
    import keras_hub

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "play", "##ing",
                  "dog", "##s"]
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True), sequence_length=8)
    keras.utils.set_random_seed(1)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=8)

    class Tokenize(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.preprocessor, self.built = preprocessor, True

        def call(self, inputs):
            return self.preprocessor(inputs)

        def compute_output_spec(self, inputs):
            return {key: keras.KerasTensor((inputs.shape[0], 8), dtype=dtype) for key, dtype
                    in (("token_ids", "int32"), ("segment_ids", "int32"),
                        ("padding_mask", "bool"))}

    tokens = {key: keras.Input((8,), dtype=dtype, name=key) for key, dtype in
              (("token_ids", "int32"), ("segment_ids", "int32"), ("padding_mask", "bool"))}
    sequence = backbone(tokens)["sequence_output"]
    body = keras.Model(tokens, keras.layers.Dense(3, activation="softmax", name="predictions")(
        keras.layers.GlobalAveragePooling1D()(sequence)), name="model_on_tokens")
    texts = keras.Input((), dtype="string", name="inputs")
    model = keras.Model(texts, body(Tokenize(name="tokenize")(texts)), name="model")

    spec = InputSpec(kind=TEXT, shape=(), dtype="string", sequence_length=8)
    found, = explain_one(model, spec, CLASSES, np.array(["The cats playing"], dtype=object),
                         baseline="pad", index=0)
    assert [(name, ids) for name, ids, _ in found.parts] == [
        ("[CLS]", "2"), ("the", "5"), ("cats", "6 10"), ("playing", "7 8"), ("[SEP]", "3")]
    assert found.attribution.value == pytest.approx(float(model(np.array(
        ["The cats playing"], dtype=object))[0, 0]), abs=1e-6)
    assert found.attribution.gap < max(0.02 * abs(found.attribution.value
                                                  - found.attribution.baseline_value), 1e-5)
