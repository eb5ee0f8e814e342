"""SelfAttention computes what Keras' MultiHeadAttention computes; its dropout keeps the rate."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bigmodel_cli.models.attention import SelfAttention, dropout

LEVELS = 1 << 16


def twin_layers(dropout_rate=0.0):
    """A Keras MultiHeadAttention and a SelfAttention with the same weights."""
    options = dict(num_heads=2, key_dim=4, dropout=dropout_rate)
    theirs, ours = keras.layers.MultiHeadAttention(**options), SelfAttention(**options)
    shape = (3, 6, 8)
    theirs.build(shape, shape)
    ours.build(shape, shape)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def padded_batch():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(3, 6, 8)).astype("float32")
    real = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]], bool)
    return inputs, real


@pytest.mark.parametrize("training", [False, True])
def test_same_output_as_keras_at_every_real_position(training):
    theirs, ours = twin_layers()
    inputs, real = padded_batch()
    masks = dict(query_mask=real, value_mask=real, training=training)
    expected = theirs(inputs, inputs, **masks).numpy()
    actual = ours(inputs, inputs, **masks).numpy()
    np.testing.assert_allclose(actual[real], expected[real], rtol=1e-5, atol=1e-6)
    # Without a mask every position is real.
    np.testing.assert_allclose(ours(inputs, inputs).numpy(), theirs(inputs, inputs).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_dropout_applies_only_in_training_and_is_seeded():
    _, ours = twin_layers(dropout_rate=0.5)
    inputs, _ = padded_batch()
    inference = ours(inputs, inputs, training=False).numpy()
    np.testing.assert_array_equal(ours(inputs, inputs, training=False).numpy(), inference)
    generator = ours._dropout_layer.seed_generator
    state = generator.state.numpy()
    first = ours(inputs, inputs, training=True).numpy()
    assert not np.allclose(first, inference)
    assert not np.array_equal(ours(inputs, inputs, training=True).numpy(), first)
    generator.state.assign(state)  # what a resumed run restores
    np.testing.assert_array_equal(ours(inputs, inputs, training=True).numpy(), first)


@pytest.mark.parametrize("shape", [(64, 256, 256), (64, 255, 257)])  # even and odd last axis
@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout_rate_scale_and_mean(shape, rate):
    outputs = dropout(tf.ones(shape), rate, keras.random.SeedGenerator(3)).numpy()
    dropped = np.mean(outputs == 0)
    threshold = round(rate * LEVELS)
    assert abs(dropped - threshold / LEVELS) < 0.005
    np.testing.assert_allclose(np.unique(outputs[outputs != 0]), LEVELS / (LEVELS - threshold))
    assert abs(outputs.mean() - 1.0) < 0.01


def test_dropout_gradient_is_the_same_mask():
    inputs = tf.Variable(tf.random.normal((4, 16, 16)))
    with tf.GradientTape() as tape:
        outputs = dropout(inputs, 0.25, keras.random.SeedGenerator(1))
        total = tf.reduce_sum(outputs)
    gradient = tape.gradient(total, inputs).numpy()
    np.testing.assert_allclose(gradient, outputs.numpy() / inputs.numpy(), rtol=1e-5)


def test_a_rate_below_the_resolution_is_no_dropout():
    inputs = tf.ones((8, 8))
    assert dropout(inputs, 1e-6, keras.random.SeedGenerator(1)) is inputs


def test_float16_keeps_padding_finite():
    options = dict(num_heads=2, key_dim=4, dtype="mixed_float16")
    layer = SelfAttention(**options)
    inputs, real = padded_batch()
    outputs = layer(inputs, inputs, query_mask=real, value_mask=real).numpy()
    assert outputs.dtype == np.float16 and np.isfinite(outputs).all()


def test_saved_config_round_trips_in_safe_mode(tmp_path):
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, SelfAttention(num_heads=2, key_dim=4, dropout=0.1)(inputs, inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.layers[1]) is SelfAttention
    batch, _ = padded_batch()
    np.testing.assert_allclose(loaded(batch).numpy(), model(batch).numpy(), rtol=1e-6)


def test_a_per_head_mask_goes_to_keras_own_path():
    theirs, ours = twin_layers()
    inputs, real = padded_batch()
    mask = np.broadcast_to(real[:, None, None, :], (3, 2, 6, 6))  # [batch, heads, query, key]
    np.testing.assert_allclose(ours(inputs, inputs, attention_mask=mask).numpy(),
                               theirs(inputs, inputs, attention_mask=mask).numpy(), rtol=1e-5)
