"""training.privacy: clipping, noise, the accountant's epsilon, the noise search, Poisson
batches, refusals, and a DP run killed with kill -9 that resumes to the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runner import bigmodel
from test_resume import backup_steps, final_weights, start_training, wait_for

from bigmodel_cli import config as config_module
from bigmodel_cli.config.schema_privacy import PrivacyConfig
from bigmodel_cli.errors import ConfigError
from bigmodel_cli.train import accounting

# --- the train step's pieces ----------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    hidden = keras.layers.Dropout(0.3)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_each_examples_clipped_gradient_norm_is_at_most_the_clip(small_model):
    import tensorflow as tf

    from bigmodel_cli.train.privacy import clip_each, per_example_gradients

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(scale=3.0, size=(16, 6)), tf.float32)
    y = tf.constant(rng.integers(0, 3, size=16))
    gradients, losses, predictions = per_example_gradients(small_model, x, y)
    assert [tuple(g.shape) for g in gradients] == [
        (16, *v.shape) for v in small_model.trainable_variables]
    assert losses.shape == (16,) and predictions.shape == (16, 3)
    raw = np.sqrt(sum(np.sum(np.reshape(g.numpy(), (16, -1)) ** 2, axis=1) for g in gradients))
    clip = float(np.median(raw))  # half the examples are clipped, half are left alone
    clipped, norms = clip_each(gradients, clip)
    np.testing.assert_allclose(norms.numpy(), raw, rtol=1e-5)
    after = np.sqrt(sum(np.sum(np.reshape(g.numpy(), (16, -1)) ** 2, axis=1) for g in clipped))
    assert np.all(after <= clip * (1 + 1e-5))
    big = raw > clip
    np.testing.assert_allclose(after[big], clip, rtol=1e-5)
    np.testing.assert_allclose(after[~big], raw[~big], rtol=1e-5)
    # Dropout draws each example's own mask: two copies of one example get different gradients.
    twins = tf.repeat(x[:1], 2, axis=0)
    twin_gradients, _, _ = per_example_gradients(small_model, twins, tf.repeat(y[:1], 2))
    assert not np.allclose(twin_gradients[0][0], twin_gradients[0][1])


@pytest.mark.parametrize(("padding", "strides"), [("same", 1), ("valid", 1), ("same", 2)])
def test_per_example_conv_gradients_without_a_loop_equal_one_example_at_a_time(
        padding, strides):
    import tensorflow as tf

    from bigmodel_cli.runtime import per_example_conv

    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(5, 7, 6, 3)), tf.float32)
    kernel = tf.constant(rng.normal(size=(3, 2, 3, 4)), tf.float32)

    def gradient(example):
        with tf.GradientTape() as tape:
            tape.watch(kernel)
            y = tf.nn.conv2d(example[tf.newaxis], kernel, strides, padding.upper())
            loss = tf.reduce_sum(tf.sin(y))
        return tape.gradient(loss, kernel)

    expected = np.stack([gradient(example).numpy() for example in x])
    per_example_conv.install()
    try:  # a batch size known only when it runs, as with Poisson sampling
        vectorized = tf.function(lambda batch: tf.vectorized_map(gradient, batch),
                                 input_signature=[tf.TensorSpec((None, 7, 6, 3))])
        np.testing.assert_allclose(vectorized(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    finally:
        per_example_conv.uninstall()


def test_the_added_noise_has_the_stated_standard_deviation():
    import tensorflow as tf

    from bigmodel_cli.train.privacy import add_noise

    zeros = [tf.zeros((400, 100)), tf.zeros((50_000,)), tf.zeros((3, 5, 7))]
    stddev = 1.1 * 0.7  # sigma x C
    noise = np.concatenate([n.numpy().ravel() for n in add_noise(zeros, stddev, 5, 12)])
    assert noise.size == 90_105
    assert abs(noise.std() / stddev - 1) < 0.01  # the estimate's own error is ~0.24%
    assert abs(noise.mean()) < 4 * stddev / np.sqrt(noise.size)
    again = np.concatenate([n.numpy().ravel() for n in add_noise(zeros, stddev, 5, 12)])
    other = np.concatenate([n.numpy().ravel() for n in add_noise(zeros, stddev, 5, 13)])
    np.testing.assert_array_equal(noise, again)  # the same (seed, step): the same noise
    assert abs(np.corrcoef(noise, other)[0, 1]) < 0.02  # the next step: new noise


# --- the accountant -------------------------------------------------------------------------

def test_epsilon_is_dp_accountings_own_answer():
    import dp_accounting
    from dp_accounting import pld, rdp

    sampling = accounting.Sampling("poisson", examples=512, batch_size=32)
    found = accounting.epsilons(sampling, 1.1, 48, 1e-5)
    event = dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
        32 / 512, dp_accounting.GaussianDpEvent(1.1)), 48)
    expected_rdp = rdp.RdpAccountant().compose(event).get_epsilon(1e-5)
    expected_pld = pld.PLDAccountant().compose(event).get_epsilon(1e-5)  # its finer grid
    assert found["rdp"] == expected_rdp
    assert round(found["rdp"], 3) == 3.112 and round(found["pld"], 3) == 2.664
    assert expected_pld <= found["pld"] < expected_pld + 0.005  # rounded pessimistically
    # Shuffled batches: each pass is one Gaussian mechanism, no amplification.
    shuffled = accounting.Sampling("shuffle", examples=512, batch_size=32)  # 16 per pass
    gaussians = dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(1.1), 3)
    assert accounting.epsilons(shuffled, 1.1, 48, 1e-5)["rdp"] == \
        rdp.RdpAccountant().compose(gaussians).get_epsilon(1e-5)
    assert accounting.epsilons(shuffled, 1.1, 33, 1e-5) == accounting.epsilons(
        shuffled, 1.1, 48, 1e-5)  # a pass begun counts whole
    assert accounting.epsilons(shuffled, 1.1, 48, 1e-5)["pld"] > found["pld"] * 2


def test_target_epsilon_search_lands_within_one_percent_below_the_target():
    sampling = accounting.Sampling("poisson", examples=1000, batch_size=50)
    for target in (1.0, 4.0):
        sigma = accounting.noise_for_target(sampling, 200, 1e-4, target)
        spent = accounting.epsilon(sampling, sigma, 200, 1e-4)
        assert 0.99 * target <= spent <= target, (target, sigma, spent)


def test_a_budget_allows_the_epochs_that_fit_and_delta_defaults_below_one_over_n():
    assert accounting.default_delta(1257) == 1e-4 and accounting.default_delta(100) == 1e-2
    privacy = PrivacyConfig(noise_multiplier=1.1, epsilon_budget=1.0)
    plan = accounting.make_plan(privacy, 420, 16, 27, 3)
    assert plan.delta == 1e-3 and plan.epochs_within_budget == 2
    assert plan.spent(2 * 27)["pld"] <= 1.0 < plan.spent(3 * 27)["pld"]
    with pytest.raises(ConfigError, match="one epoch already spends"):
        accounting.make_plan(PrivacyConfig(noise_multiplier=0.5, epsilon_budget=0.1),
                             420, 16, 27, 3)


def test_the_secret_is_new_for_each_run_unless_seeded_and_comes_back_from_a_backup():
    from bigmodel_cli.train.privacy import Secret

    drawn = Secret(None).values
    assert drawn != Secret(None).values and Secret(5).values == [5, 6]
    restored = Secret(None)
    restored.set_state({"secret": drawn})
    assert restored.values == drawn and restored.get_state() == {"secret": drawn}


# --- Poisson batches ------------------------------------------------------------------------

def test_poisson_batches_vary_in_size_and_any_step_can_be_drawn_again():
    from bigmodel_cli.data.poisson import poisson_batches

    batches = poisson_batches(2000, 0.02, seed=9)
    drawn = [b.numpy() for b in batches(0).take(400)]
    sizes = np.array([len(b) for b in drawn])
    assert abs(sizes.mean() - 40) < 1.5 and abs(sizes.var() / (40 * 0.98) - 1) < 0.25
    assert all(len(np.unique(b)) == len(b) and b.min() >= 0 and b.max() < 2000 for b in drawn)
    for step, batch in enumerate(batches(395).take(5), start=395):
        np.testing.assert_array_equal(batch.numpy(), drawn[step])


# --- refusals, without TensorFlow -----------------------------------------------------------

SMALL = """\
name: private
data: {source: synthetic, kind: vector, input_shape: [8], num_classes: 3, num_examples: 64,
       batch_size: 16}
model: {family: mlp}
training: {epochs: 1, privacy: {noise_multiplier: 1.0}}
"""


@pytest.mark.parametrize(("override", "key", "reason"), [
    ("model.batch_norm=true", "model.batch_norm", "refuses BatchNorm"),
    ("training.gradient_accumulation_steps=4", "training.gradient_accumulation_steps",
     "no defined privacy meaning"),
    ("training.mixed_precision=mixed_float16", "training.mixed_precision", "float32 only"),
    ("distribute.strategy=multi_worker", "distribute.strategy", "runs on one machine"),
    ("model.family=rnn", "model.family", "recurrent layer's loop"),
    ("model.family=transformer", "model.family", "not supported yet"),
    ("training.privacy.target_epsilon=2", "training.privacy", "exactly one of"),
], ids=["batch_norm", "accumulation", "mixed_precision", "multi_worker", "rnn", "transformer",
        "noise_and_target"])
def test_what_privacy_cannot_be_combined_with_is_refused_with_the_reason(
        tmp_path, override, key, reason):
    path = tmp_path / "private.yaml"
    path.write_text(SMALL)
    config_module.load(path)  # the config itself is fine
    with pytest.raises(ConfigError) as error:
        config_module.load(path, [override])
    assert key in str(error.value) and reason in str(error.value)


def test_config_validate_refuses_batch_norm_in_one_line(tmp_path):
    path = tmp_path / "private.yaml"
    path.write_text(SMALL.replace("{family: mlp}", "{family: mlp, batch_norm: true}"))
    result = bigmodel("config", "validate", path)
    assert result.returncode == 2
    assert "model.batch_norm: training.privacy refuses BatchNorm" in result.stderr
    assert "Traceback" not in result.stderr


# --- a real DP run: epsilon per epoch, the budget's stop, kill -9 and resume ----------------

RUN = """\
name: private_resume
seed: 7
data: {source: synthetic, kind: vector, input_shape: [8], num_classes: 3,
       num_examples: 600, batch_size: 16}
model: {family: mlp, hidden_units: [16], dropout: 0.2}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 3, deterministic: true, tensorboard: false,
           privacy: {noise_multiplier: 1.1, l2_norm_clip: 1.0, epsilon_budget: 1.0,
                     secret_seed: 11}}
checkpoint: {backup_every_steps: 5}
"""


@pytest.fixture(scope="module")
def run_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("private") / "private.yaml"
    path.write_text(RUN)
    return path


@pytest.mark.slow  # three training processes: ~100 s on 2 busy cores
def test_a_dp_run_killed_with_kill_9_resumes_to_identical_weights_and_epsilon(
        run_config, tmp_path):
    # 420 training examples, 27 steps per epoch; the budget allows 2 of the 3 epochs.
    whole = tmp_path / "whole"
    result = bigmodel("train", run_config, "--run-dir", whole)
    assert result.returncode == 0, result.stderr
    assert "privacy: DP-SGD, clip 1, noise multiplier 1.1, delta 0.001 (1/N rounded down" \
        in result.stdout
    assert "epsilon_budget 1 allows 2 of 3 epochs" in result.stdout
    assert "privacy: stopping after epoch 2: epsilon is 0.972" in result.stdout
    rows = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert [round(row["epsilon"], 3) for row in rows] == [0.698, 0.972]
    assert all(row["epsilon_rdp"] > row["epsilon"] for row in rows)
    results = json.loads((whole / "results.json").read_text())
    assert results["steps"] == 54 and results["privacy"]["epsilon"] == rows[-1]["epsilon"]
    assert results["privacy"]["sampling"] == "poisson" and results["privacy"]["delta"] == 1e-3

    resumed = tmp_path / "resumed"
    process = start_training(run_config, resumed)
    wait_for(lambda: any(10 <= step < 27 or step > 27 for step in backup_steps(resumed)),
             process)
    process.kill()  # kill -9, mid-epoch
    process.wait()
    backup = max((resumed / "backup").glob("state-*.json"))
    assert json.loads(backup.read_text())["callbacks"]["privacy"] == {"secret": [11, 12]}
    result = bigmodel("train", run_config, "--run-dir", resumed)
    assert result.returncode == 0, result.stderr
    assert "resuming from step" in result.stdout
    for expected, actual in zip(final_weights(whole), final_weights(resumed), strict=True):
        np.testing.assert_array_equal(actual, expected)
    again = json.loads((resumed / "results.json").read_text())
    assert again["privacy"] == results["privacy"]
    assert [json.loads(line)["epsilon"] for line in
            (resumed / "metrics.jsonl").read_text().splitlines()] == [r["epsilon"] for r in rows]
