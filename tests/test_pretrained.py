"""model.family: pretrained: random-weight keras-hub presets fine-tuned from a config, the saved
model taking raw strings, resume after kill -9, --init-from, LoRA, and the offline rules."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from cli_runner import REPO, bigmodel
from pretrained_presets import write_reviews
from test_resume import backup_steps, start_training, wait_for

CONFIG = """\
name: pretrained
seed: 5
data: {{source: text_folder, path: {data}, sequence_length: 12, batch_size: 8}}
model: {{family: pretrained, preset: {preset}}}
optimizer: {{name: adamw, learning_rate: 0.002, schedule: {{name: cosine, warmup_steps: 2}}}}
training: {{epochs: 2, deterministic: true, tensorboard: false}}
checkpoint: {{backup_every_steps: 3}}
"""


@pytest.fixture(scope="module")
def config_file(pretrained_presets, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained")
    path = folder / "pretrained.yaml"
    path.write_text(CONFIG.format(data=write_reviews(folder / "reviews"),
                                  preset=pretrained_presets["distil_bert"]))
    return path


@pytest.fixture(scope="module")
def trained(config_file, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = bigmodel("train", config_file, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir


def saved_weights(run_dir):
    import keras

    import bigmodel_cli.models  # noqa: F401  registers bigmodel's layers

    return keras.models.load_model(run_dir / "checkpoints" / "last.keras").get_weights()


def test_a_preset_fine_tunes_and_its_saved_model_takes_raw_strings(trained):
    results = json.loads((trained / "results.json").read_text())
    assert results["epochs"] == 2 and 0 <= results["test"]["accuracy"] <= 1
    # Per token and layer, 2 x (4 x 32 x 32 attention + 2 x 32 x 64 feed-forward weights) for
    # the projections and 4 x 12 x 32 for attention; the head's 32 weights; forward + backward.
    forward = 2 * (2 * 12 * (4 * 32 * 32 + 2 * 32 * 64) + 4 * 12 * 12 * 32) + 2 * 32
    assert results["throughput"]["training_flops_per_example"] == 3 * forward
    predicted = bigmodel("predict", trained, "good great film", "the plot was dull",
                         "--format", "jsonl")
    assert predicted.returncode == 0, predicted.stderr
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [row["input"] for row in rows] == ["good great film", "the plot was dull"]
    for row in rows:
        assert {guess["class"] for guess in row["top"]} <= {"neg", "pos"}
        assert sum(guess["probability"] for guess in row["top"]) == pytest.approx(1, abs=1e-5)
    evaluated = bigmodel("evaluate", trained, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["examples"] == results["examples"]["test"]
    assert report["accuracy"] == pytest.approx(results["test"]["accuracy"], abs=1e-6)


@pytest.mark.slow  # three training runs (~2 minutes on 2 quiet cores)
def test_kill_9_then_resume_ends_with_the_uninterrupted_weights(config_file, trained, tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(config_file, run_dir)
    wait_for(lambda: any(step >= 3 for step in backup_steps(run_dir)), process, timeout=300)
    process.kill()
    process.wait()
    result = bigmodel("train", config_file, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    assert "resuming from step" in result.stdout
    for expected, actual in zip(saved_weights(trained), saved_weights(run_dir), strict=True):
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.slow  # a second training run
def test_init_from_starts_from_a_finished_runs_weights(config_file, trained, tmp_path):
    run_dir = tmp_path / "run"
    # A learning rate too small to move a weight: what the run ends with is what it loaded.
    result = bigmodel("train", config_file, "--run-dir", run_dir, "--init-from", trained,
                      "--set", "training.epochs=1", "--set", "optimizer.learning_rate=1e-12",
                      "--set", "optimizer.schedule=constant", "--set", "checkpoint.monitor=loss")
    assert result.returncode == 0, result.stderr
    assert "weights initialized from" in result.stdout
    for expected, actual in zip(saved_weights(trained), saved_weights(run_dir), strict=True):
        np.testing.assert_allclose(actual, expected, atol=1e-6)


def built(preset, **model):
    """The compiled model of a pretrained config on a one-text-per-class spec, in process."""
    import tensorflow as tf

    from bigmodel_cli.config.schema import Config
    from bigmodel_cli.data.spec import TEXT, InputSpec, TargetSpec
    from bigmodel_cli.train import assemble

    config = Config.model_validate({
        "name": "built", "data": {"source": "synthetic", "kind": "text"},
        "model": {"family": "pretrained", "preset": str(preset), **model}})
    spec = InputSpec(kind=TEXT, shape=(), dtype="string", vocabulary=["good"], sequence_length=8)
    target = TargetSpec(task="multiclass", class_names=["a", "b", "c"])
    return assemble.compiled_model(tf, config, tf.distribute.get_strategy(), spec, target, 10)


def count(weights) -> int:
    return sum(int(np.prod(weight.shape)) for weight in weights)


def test_lora_trains_only_the_adapters_and_the_head(pretrained_presets):
    import tensorflow as tf

    assembled = built(pretrained_presets["bert"], trainable="lora", lora_rank=2, pooling="mean")
    model = assembled.model
    trainable = {weight.path for weight in model.trainable_weights}
    adapters = [weight for weight in model.weights if "lora" in weight.path]
    head = model.get_layer("predictions").weights
    # Query and value projections of 2 layers; each kernel is (32, 2 heads, 16) and Keras'
    # EinsumDense adapts it with a (32, 2, rank 2) and a (rank 2, 16) kernel.
    assert count(adapters) == 2 * 2 * (32 * 2 * 2 + 2 * 16)
    assert trainable == {weight.path for weight in adapters + head}
    assert count(model.trainable_weights) == count(adapters) + 32 * 3 + 3
    frozen = [weight for weight in model.weights if weight.path not in trainable]
    before = [np.array(weight) for weight in frozen]
    batch = assembled.vectorize(tf.constant(["good film", "bad plot", "the actor"]))
    model.train_on_batch(batch, np.array([0, 1, 2]))
    for weight, value in zip(frozen, before, strict=True):
        np.testing.assert_array_equal(np.array(weight), value)
    head_only = built(pretrained_presets["distil_bert"], trainable="head").model
    assert count(head_only.trainable_weights) == 32 * 3 + 3


def test_a_hub_preset_missing_from_the_cache_fails_first_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "cache"))
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")  # no network, even where there is
    config = tmp_path / "hub.yaml"
    config.write_text("data: {source: tfds, name: imdb_reviews}\n"
                      "model: {family: pretrained, preset: distil_bert_base_en_uncased}\n")
    result = bigmodel("train", config, "--run-dir", tmp_path / "run")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'distil_bert_base_en_uncased' is not in keras-hub's local cache" in lines[0]
    assert str(tmp_path / "cache" / "models" / "keras" / "distil_bert") in lines[0]
    assert "model.preset: path/to/folder" in lines[0]
    assert "data:" not in result.stdout  # before the data was read
    assert not (tmp_path / "run").exists()


def test_a_cached_hub_preset_is_read_from_the_cache(pretrained_presets, tmp_path, monkeypatch):
    import shutil

    cache = tmp_path / "cache"
    # Where kagglehub keeps keras-hub's bert_tiny_en_uncased (version 3 in keras-hub 0.32).
    shutil.copytree(pretrained_presets["bert"],
                    cache / "models" / "keras" / "bert" / "keras" / "bert_tiny_en_uncased" / "3")
    # A newer version of which only config.json came down (a download cut short): not cached.
    partial = cache / "models" / "keras" / "bert" / "keras" / "bert_tiny_en_uncased" / "4"
    partial.mkdir()
    shutil.copy(pretrained_presets["bert"] / "config.json", partial)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(cache))
    from bigmodel_cli.models import hub

    assert hub.preset_folder("bert_tiny_en_uncased") == str(
        cache / "models" / "keras" / "bert" / "keras" / "bert_tiny_en_uncased" / "3")
    with pytest.raises(Exception, match="no keras-hub preset name.*did you mean 'bert_tiny_en"):
        hub.preset_folder("bert_tiny_en_uncase")


@pytest.mark.parametrize("make, message", [
    (lambda folder: None, "does not exist"),
    (lambda folder: folder.mkdir(), "has no config.json"),
    (lambda folder: (folder.mkdir(), (folder / "config.json").write_text("{oops")),
     "is not readable JSON"),
])
def test_config_validate_checks_a_preset_folder_without_tensorflow(tmp_path, make, message):
    folder = tmp_path / "preset"
    make(folder)
    config = tmp_path / "local.yaml"
    config.write_text("data: {source: synthetic, kind: text}\n"
                      f"model: {{family: pretrained, preset: {folder}}}\n")
    result = bigmodel("config", "validate", config)
    assert result.returncode == 2
    assert f"{config}:2:" in result.stderr and "model.preset:" in result.stderr
    assert message in result.stderr
    # Checking it needs no TensorFlow.
    script = ("import sys; from bigmodel_cli.config import loading\n"
              f"try: loading.load({str(config)!r})\nexcept Exception: pass\n"
              "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    checked = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stderr


def test_a_package_preset_names_a_folder_inside_an_installed_package(tmp_path):
    from bigmodel_cli.config import presets

    assert presets.local_folder("package:json/tool.py").name == "tool.py"
    assert "is a file, not a folder" in presets.problem("package:json/tool.py")
    assert "no installed Python package 'no_such_package'" in presets.problem(
        "package:no_such_package/model")
    assert presets.is_hub("bert_tiny_en_uncased") and presets.is_hub("hf://org/model")
    assert not presets.is_hub(str(tmp_path)) and not presets.is_hub("./model")


def test_an_image_backbone_fine_tunes_with_its_converter_inside_the_model(tmp_path):
    import keras
    import tensorflow as tf
    from pretrained_presets import save_image_preset

    from bigmodel_cli.config.schema import Config
    from bigmodel_cli.data.spec import IMAGE, InputSpec, TargetSpec
    from bigmodel_cli.train import assemble

    folder = save_image_preset(tmp_path / "resnet")
    config = Config.model_validate({
        "name": "images", "data": {"source": "synthetic", "kind": "image"},
        "model": {"family": "pretrained", "preset": str(folder), "trainable": "head"}})
    spec = InputSpec(kind=IMAGE, shape=(24, 24, 3), dtype="float32", scale=1 / 255)
    target = TargetSpec(task="multiclass", class_names=["a", "b", "c"])
    assembled = assemble.compiled_model(tf, config, tf.distribute.get_strategy(), spec, target, 4)
    model = assembled.model
    assert model is assembled.saved and assembled.vectorize is None  # one model, raw pixels in
    assert count(model.trainable_weights) == 64 * 3 + 3  # the backbone frozen: the head trains
    pixels = np.random.default_rng(0).uniform(0, 255, (6, 24, 24, 3)).astype("float32")
    model.fit(pixels, np.array([0, 1, 2, 0, 1, 2]), epochs=1, verbose=0)
    model.save(tmp_path / "images.keras")
    loaded = keras.models.load_model(tmp_path / "images.keras")
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0),
                               atol=1e-6)
    assert any("image_converter" in layer.name for layer in loaded.layers)
