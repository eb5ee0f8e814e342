"""Speed settings and the throughput report: what `auto` resolves to, FLOPs per example on
layers counted by hand, the MFU arithmetic, the peak FLOP/s cache and the progress display."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import keras
import pytest
from cli_runner import CONFIGS, bigmodel
from rich.console import Console

from bigmodel_cli.config.schema import Config
from bigmodel_cli.errors import ConfigError
from bigmodel_cli.train import performance, progress


def fake_strategy(*devices: str, name: str = "OneDeviceStrategy"):
    strategy_class = type(name, (), {})
    strategy = strategy_class()
    strategy.extended = SimpleNamespace(worker_devices=list(devices))
    strategy.num_replicas_in_sync = len(devices)
    return strategy


CPU_STRATEGY = fake_strategy("/job:localhost/replica:0/task:0/device:CPU:0")


def make_config(**training) -> Config:
    return Config.model_validate({
        "name": "speed", "data": {"source": "synthetic"}, "model": {"family": "mlp"},
        "training": training})


def dense_model():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])


def lstm_model():
    return keras.Sequential([keras.Input((256,), dtype="int32"), keras.layers.Embedding(100, 32),
                             keras.layers.LSTM(64), keras.layers.Dense(1)])


# --- auto -----------------------------------------------------------------------------------

@pytest.mark.parametrize("steps, kind, expected", [
    (150, "cpu", 30),    # the largest divisor of the epoch up to 32
    (1024, "cpu", 32),
    (1407, "cpu", 21),   # MNIST's 45,000 training images in batches of 32: 3 x 7 x 67
    (7, "cpu", 7),
    (13, "cpu", 13),
    (1024, "tpu", 64),
])
def test_auto_steps_per_execution_divides_the_epoch(steps, kind, expected):
    chosen = performance.choose_steps_per_execution("auto", kind, {"epoch": steps})
    assert chosen == expected


def test_auto_steps_per_execution_also_divides_backups_and_a_resumed_epoch():
    config = make_config(steps_per_execution="auto")
    config.checkpoint.backup_every_steps = 48
    options = performance.compile_options(config, dense_model(), CPU_STRATEGY, 128)
    assert options["steps_per_execution"] == 16  # gcd(128, 48)
    config.checkpoint.backup_every_steps = None
    resumed = performance.compile_options(config, dense_model(), CPU_STRATEGY, 150, 60)
    assert resumed["steps_per_execution"] == 30  # gcd(150, 150 - 60)


def test_explicit_steps_per_execution_must_divide_the_epoch():
    assert performance.choose_steps_per_execution(5, "cpu", {"the epoch": 150}) == 5
    with pytest.raises(ConfigError, match=r"32 does not divide the epoch \(150\).*such as 30"):
        performance.choose_steps_per_execution(32, "cpu", {"the epoch": 150})


def test_auto_jit_compile_per_device_and_model():
    dense, recurrent = dense_model(), lstm_model()
    assert performance.choose_jit_compile("auto", "cpu", dense) is True
    assert performance.choose_jit_compile("auto", "cpu", recurrent) is True
    assert performance.choose_jit_compile("auto", "cpu", recurrent, deterministic=True) is False
    assert performance.choose_jit_compile("auto", "cpu", dense, replicas=2) is False
    assert performance.choose_jit_compile("auto", "gpu", dense) == "auto"  # Keras decides
    assert performance.choose_jit_compile(True, "cpu", dense) is True
    assert performance.choose_jit_compile(False, "gpu", recurrent) is False


def test_auto_jit_compile_on_cpu_leaves_out_what_xla_runs_slower_or_cannot_compile():
    convolution = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    tokens = keras.Input((8,))
    embedded = keras.layers.Embedding(10, 4)(tokens)
    attention = keras.Model(tokens, keras.layers.MultiHeadAttention(2, 2)(embedded, embedded))
    dropout = keras.Sequential([keras.Input((8, 4)), keras.layers.LSTM(4),
                                keras.layers.Dropout(0.5)])
    cell_dropout = keras.Sequential([keras.Input((8, 4)), keras.layers.LSTM(4, dropout=0.1)])
    no_dropout = keras.Sequential([keras.Input((8, 4)), keras.layers.GRU(4),
                                   keras.layers.Dropout(0.0)])
    text = keras.Input((), dtype="string")
    vectorize = keras.layers.TextVectorization(vocabulary=["a"], output_sequence_length=4)
    text_model = keras.Model(text, keras.layers.LSTM(2)(keras.layers.Embedding(3, 2)(
        vectorize(text))))
    for model, expected in ((convolution, False), (attention, False), (dropout, False),
                            (cell_dropout, False), (no_dropout, True), (text_model, False)):
        assert performance.choose_jit_compile("auto", "cpu", model) is expected, model.layers


def test_device_kind_from_the_strategy():
    assert performance.device_kind(CPU_STRATEGY) == "cpu"
    assert performance.device_kind(fake_strategy("/device:GPU:0", "/device:GPU:1")) == "gpu"
    assert performance.device_kind(fake_strategy("/device:TPU:0", name="TPUStrategy")) == "tpu"


# --- FLOPs, tokens and MFU ------------------------------------------------------------------

def test_training_flops_per_example_counted_by_hand():
    # Dense: 2 FLOPs per weight of the kernel and example; training = 3 forward passes.
    report = performance.run_report(None, dense_model(), CPU_STRATEGY, None, None)
    assert report["training_flops_per_example"] == 3 * 2 * (784 * 64 + 64 * 10)
    convolution = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(32, 3)])
    report = performance.run_report(None, convolution, CPU_STRATEGY, None, None)
    assert report["training_flops_per_example"] == 3 * 2 * (3 * 3 * 3 * 32) * (30 * 30)
    # LSTM: four gates, each from the input (32) and the state (64), at each of 256 steps.
    report = performance.run_report(None, lstm_model(), CPU_STRATEGY, None, None)
    lstm = 256 * 2 * (32 * 256 + 64 * 256)
    assert report["training_flops_per_example"] == 3 * (lstm + 2 * 64)
    assert report["examples_per_second"] is None and report["mfu"] is None


def test_tokens_per_example_for_sequence_inputs_only():
    assert performance.tokens_per_example(lstm_model()) == 256
    assert performance.tokens_per_example(dense_model()) == 0
    text = keras.Input((), dtype="string")
    vectorize = keras.layers.TextVectorization(vocabulary=["a", "b"], output_sequence_length=16)
    model = keras.Model(text, keras.layers.Embedding(4, 2)(vectorize(text)))
    assert performance.tokens_per_example(model) == 16


def test_mfu_arithmetic_and_the_line_that_reports_it():
    report = performance.throughput_report(1000.0, 3e6, (1.5e11, "training.peak_flops"), 256)
    assert report["tokens_per_second"] == 256_000
    assert report["flops_per_second"] == 3e9
    assert report["mfu"] == pytest.approx(0.02)
    line = performance.describe_throughput(report)
    assert line == ("throughput: 1,000 examples/s (256,000 tokens/s), 3 MFLOP per example, "
                    "3 GFLOP/s, MFU 2% of 150 GFLOP/s peak (training.peak_flops)")
    small = performance.throughput_report(20.0, 1234.0, (2.43e11, "cached"))
    assert performance.describe_throughput(small) == (
        "throughput: 20 examples/s, 1.23 kFLOP per example, 24.7 kFLOP/s, MFU 1.02e-05% of "
        "243 GFLOP/s peak (cached)")
    untimed = performance.throughput_report(None, 3e6, None)
    assert untimed["mfu"] is None and "too few steps" in performance.describe_throughput(untimed)


# --- peak FLOP/s ----------------------------------------------------------------------------

def test_configured_peak_wins_and_writes_nothing(tmp_path):
    cache = tmp_path / "peak.json"
    assert performance.peak_flops(None, CPU_STRATEGY, "float32", 2e11, cache) == (
        2e11, "training.peak_flops")
    assert not cache.exists()


def test_peak_is_measured_once_per_device_and_dtype_then_cached(tmp_path, monkeypatch):
    cache = tmp_path / "bigmodel" / "peak.json"
    cache.parent.mkdir()
    cache.write_text('{"some other machine float32": 5.0}')
    measured = []
    monkeypatch.setattr(performance, "measure_matmul_flops",
                        lambda tf, device, size, dtype: measured.append(device) or 1.25e11)
    value, source = performance.peak_flops(None, CPU_STRATEGY, "float32", None, cache)
    assert (value, measured) == (1.25e11, ["/job:localhost/replica:0/task:0/device:CPU:0"])
    assert source.startswith("measured")
    stored = json.loads(cache.read_text())
    key = f"{performance.device_description(None, 'cpu')} float32"
    assert stored == {"some other machine float32": 5.0, key: 1.25e11}
    assert not list(cache.parent.glob(".*tmp*"))  # written through a temporary name
    again = performance.peak_flops(None, CPU_STRATEGY, "float32", None, cache)
    assert again == (1.25e11, f"cached in {cache}") and len(measured) == 1
    performance.peak_flops(None, CPU_STRATEGY, "bfloat16", None, cache)
    assert len(measured) == 2  # another dtype has another peak


def test_a_run_faster_than_the_cached_peak_measures_it_again_and_keeps_the_higher(
        tmp_path, monkeypatch):
    # A probe taken on a busy machine reads low; the MFU would then pass 100%.
    cache = tmp_path / "peak.json"
    key = f"{performance.device_description(None, 'cpu')} float32"
    cache.write_text(json.dumps({key: 7e10}))
    readings = iter([2.5e11, 1e11])
    monkeypatch.setattr(performance, "measure_matmul_flops", lambda *args: next(readings))
    below = performance.peak_flops(None, CPU_STRATEGY, "float32", None, cache, achieved=5e10)
    assert below == (7e10, f"cached in {cache}")  # plausible: not measured again
    value, source = performance.peak_flops(None, CPU_STRATEGY, "float32", None, cache,
                                           achieved=9e10)
    assert value == 2.5e11 and source.startswith("measured")
    # A later, busier probe never lowers what was measured.
    assert performance.peak_flops(None, CPU_STRATEGY, "float32", None, cache,
                                  achieved=3e11)[0] == 2.5e11
    assert json.loads(cache.read_text()) == {key: 2.5e11}


def test_a_damaged_cache_is_measured_again(tmp_path, monkeypatch):
    cache = tmp_path / "peak.json"
    cache.write_text("{not json")
    monkeypatch.setattr(performance, "measure_matmul_flops", lambda *args: 7.0)
    assert performance.peak_flops(None, CPU_STRATEGY, "float32", None, cache)[0] == 7.0
    assert list(json.loads(cache.read_text()).values()) == [7.0]


def test_accelerator_peaks_add_up_cpu_devices_share_one(tmp_path, monkeypatch):
    monkeypatch.setattr(performance, "measure_matmul_flops", lambda *args: 1e12)
    monkeypatch.setattr(performance, "device_description", lambda tf, kind: kind)
    two_gpus = fake_strategy("/device:GPU:0", "/device:GPU:1", name="MirroredStrategy")
    two_cpus = fake_strategy("/device:CPU:0", "/device:CPU:1", name="MirroredStrategy")
    assert performance.peak_flops(None, two_gpus, "float32", None, tmp_path / "a")[0] == 2e12
    assert performance.peak_flops(None, two_cpus, "float32", None, tmp_path / "b")[0] == 1e12


def test_the_matmul_probe_measures_a_positive_rate(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(performance, "PEAK_PROBE_SECONDS", 0.01)
    assert performance.measure_matmul_flops(tf, "/device:CPU:0", 64, "float32") > 1e6


# --- the progress display with several steps per execution ----------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_times_training_steps_after_the_first_execution(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    output = io.StringIO()
    display = progress.TrainingProgress(Console(file=output, width=200), 2, 8, batch_size=16,
                                        train_examples=128, tokens_per_example=100)
    display.params = {"steps": 8}
    # 4 steps per execution. Epoch 1: the first execution (tracing) ends at 1.0 s, then 4 steps
    # in 0.5 s; epoch 2 starts at 2.0 s (after checkpoints) and runs 8 steps in 0.5 s.
    clock.now = 0.0
    display.on_train_begin()
    display.on_epoch_begin(0)
    for clock.now, batch in ((1.0, 3), (1.5, 7)):
        display.on_train_batch_end(batch, {"loss": 0.5})
    clock.now = 1.9  # checkpoints and logs are not training time
    display.on_epoch_end(0, {"loss": 0.5})
    clock.now = 2.0
    display.on_epoch_begin(1)
    for clock.now, batch in ((2.25, 3), (2.5, 7)):
        display.on_train_batch_end(batch, {"loss": 0.25})
    display.on_epoch_end(1, {"loss": 0.25})
    display.on_train_end()
    assert display.examples_per_second() == (4 + 8) * 16 / (0.5 + 0.5)
    lines = output.getvalue().splitlines()
    assert lines == ["epoch 1/2  loss 0.5000  85 ex/s 8,533 tok/s  1.9s",
                     "epoch 2/2  loss 0.2500  256 ex/s 25,600 tok/s  0.5s"]


def test_progress_counts_a_last_short_execution_and_a_resumed_epoch(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    output = io.StringIO()
    terminal = Console(file=output, width=120, force_terminal=True)
    display = progress.TrainingProgress(terminal, 1, 8, batch_size=2, train_examples=16)
    display.params = {"steps": 5}  # a resumed run finishes the last 5 steps of an epoch of 8
    display.on_train_begin()
    display.on_epoch_begin(0)
    assert display.skipped == 3
    for clock.now, batch in ((1.0, 2), (2.0, 5)):  # 3 steps per execution: 6 > 5 steps left
        display.on_train_batch_end(batch, {"loss": 1.0})
    assert display.steps_done == 5
    display.on_epoch_end(0, {"loss": 1.0})
    display.on_train_end()
    display.close()  # a second stop (the runner's finally) draws nothing more
    assert display.examples_per_second() == 2 * 2 / 1.0
    assert "epoch 1/1  loss 1.0000  5 ex/s" in output.getvalue()


@pytest.mark.parametrize("first, end, examples, batch, expected", [
    (0, 7, 105, 16, 105),     # six batches of 16, then one of 9
    (6, 7, 105, 16, 9),
    (5, 9, 105, 16, 16 + 9 + 16 + 16),  # across the end of a pass
    (0, 3, 5, 16, 15),        # a batch larger than the data holds all of it
    (0, 4, 64, 16, 64),       # the batch divides the data: all full
])
def test_examples_in_steps_counts_the_short_batches(first, end, examples, batch, expected):
    assert performance.examples_in_steps(first, end, examples, batch) == expected


class ExamplesTrained(keras.metrics.Metric):
    """Counts the examples the train step took, within each epoch (Keras resets metrics)."""

    def __init__(self):
        super().__init__(name="examples")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(keras.ops.cast(keras.ops.shape(y_true)[0], "float32"))

    def result(self):
        return self.total


@pytest.mark.parametrize("examples, batch", [(10, 4), (5, 16)],
                         ids=["not-a-multiple", "batch-larger-than-data"])
def test_progress_counts_the_examples_a_real_fit_trains_on(examples, batch):
    """Fit as the runner does: one stream for the run, entered at the step reached (a resumed
    run finishes its epoch first). Timed: every step but the first execution of the run."""
    import numpy as np
    import tensorflow as tf

    x = np.ones((examples, 3), dtype="float32")
    data = tf.data.Dataset.from_tensor_slices((x, np.zeros(examples, "float32"))).batch(batch)
    steps = -(-examples // batch)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=[ExamplesTrained()],
                  steps_per_execution=1)

    class Trained(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.first_execution, self.per_epoch = None, []

        def on_train_batch_end(self, batch, logs=None):
            if self.first_execution is None:
                self.first_execution = logs["examples"]

        def on_epoch_end(self, epoch, logs=None):
            self.per_epoch.append(logs["examples"])

    def run(*phases):  # (first step, initial epoch, end epoch, steps per epoch) per fit
        display = progress.TrainingProgress(Console(file=io.StringIO()), 3, steps, batch,
                                            examples)
        trained = Trained()
        for first_step, initial_epoch, epochs, steps_per_epoch in phases:
            model.fit(data.repeat().skip(first_step), initial_epoch=initial_epoch,
                      epochs=epochs, steps_per_epoch=steps_per_epoch,
                      callbacks=[display, trained], shuffle=False, verbose=0)
        assert display.timed_examples == sum(trained.per_epoch) - trained.first_execution
        assert display.examples_per_second() == pytest.approx(
            display.timed_examples / display.timed_seconds)
        return sum(trained.per_epoch)

    assert run((0, 0, 3, steps)) == 3 * examples  # three whole epochs
    if steps > 1:  # resumed at step 1 of epoch 2: the rest of that epoch, then epoch 3
        assert run((steps + 1, 1, 2, steps - 1), (2 * steps, 2, 3, steps)) == (
            2 * examples - batch)


# --- a real run -----------------------------------------------------------------------------

def test_a_run_reports_throughput_and_mfu_in_results_json(tmp_path):
    result = bigmodel("train", CONFIGS / "smoke" / "rnn.yaml", "--run-dir", tmp_path / "run",
                      "--set", "training.epochs=2", "--set", "training.peak_flops=1e11")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "run" / "results.json").read_text())["throughput"]
    # 179 training examples in batches of 16: 12 steps an epoch, all in one execution.
    assert (report["device"], report["steps_per_execution"]) == ("cpu", 12)
    assert report["jit_compile"] is True  # an LSTM without dropout: XLA on a CPU
    assert report["tokens_per_second"] == pytest.approx(16 * report["examples_per_second"])
    assert report["mfu"] == pytest.approx(report["flops_per_second"] / 1e11)
    assert report["peak_source"] == "training.peak_flops"
    assert "model: rnn, 953 parameters, task binary; 12 step(s) per execution, XLA on" in (
        result.stdout)
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2 and all(" ex/s " in line and " tok/s " in line
                                         for line in epoch_lines)
    assert f"throughput: {report['examples_per_second']:,.0f} examples/s" in result.stdout


# --- raw text: words looked up in the input pipeline, saved model still takes strings ----

def test_text_trains_on_word_ids_and_saves_a_model_that_takes_strings():
    import numpy as np
    import tensorflow as tf

    from bigmodel_cli.data.spec import InputSpec, TargetSpec
    from bigmodel_cli.train import assemble

    config = Config.model_validate({
        "name": "text", "data": {"source": "synthetic", "kind": "text"},
        "model": {"family": "rnn", "units": 8, "embedding_dim": 8, "dropout": 0}})
    spec = InputSpec(kind="text", shape=(), dtype="string", vocabulary=["good", "bad", "film"],
                     sequence_length=6, vocab_size=5)
    target = TargetSpec(task="binary", class_names=["negative", "positive"])
    assembled = assemble.compiled_model(tf, config, tf.distribute.get_strategy(), spec, target,
                                        steps_per_epoch=4)
    trained_layers = [type(layer).__name__ for layer in assembled.model.layers]
    assert "TextVectorization" not in trained_layers
    assert "TextVectorization" in [type(layer).__name__ for layer in assembled.saved.layers]
    assert assembled.model.jit_compile  # no strings left in the step: XLA can compile it
    texts = tf.constant(["good film", "bad bad film", "unknown words", ""])
    np.testing.assert_allclose(assembled.saved(texts).numpy(),
                               assembled.model(assembled.vectorize(texts)).numpy(), rtol=1e-6)
    dataset = tf.data.Dataset.from_tensor_slices((texts, [1, 0, 1, 0])).batch(2)
    ids, labels = next(iter(assembled.to_model_inputs(dataset)))
    assert ids.shape == (2, 6) and ids.dtype.is_integer
    np.testing.assert_array_equal(ids.numpy()[0], [2, 4, 0, 0, 0, 0])  # good film, padded
