"""Self-attention computing Keras' MultiHeadAttention at every real position, ~1.3x faster.

Why not Keras' own path: with dropout, MultiHeadAttention draws one 32-bit random number per
attention weight (batch x heads x length x length, 4.2 million a step for the IMDB recipe)
and masks the softmax twice. On a 2-core CPU that was 40% of the Transformer's training step.
Here each weight takes 16 random bits (two per 32-bit draw), padding is one additive bias, and
the softmax runs in float32, as Keras' fused `dot_product_attention` does. The weights, their
names and the saved config are those of MultiHeadAttention, so checkpoints load either way.
Padded query rows (fully masked) come out uniform rather than zero; nothing reads them: the
next block masks them as keys and pooling skips them.
Measured by `python benchmarks/compare.py --families transformer` (README "Performance").
"""

from __future__ import annotations

import keras
import tensorflow as tf

PACKAGE = "bigmodel"  # registered names are "bigmodel>Class", for safe-mode loading
RANDOM_BITS = 16  # per dropout decision: a rate is rounded to a multiple of 1 / 65,536


def dropout(inputs, rate: float, seed_generator):
    """Inverted dropout drawing 16 random bits per element from a Keras SeedGenerator.

    The rate is rounded to a multiple of 2**-16 and the kept values are scaled by the rounded
    rate, so the expected value of every element is unchanged, as with Keras' Dropout.
    """
    levels = 1 << RANDOM_BITS
    threshold = round(rate * levels)
    if threshold == 0:
        return inputs
    # Keras keeps seeds as int64 variables; TensorFlow's stateless ops take int32 seeds.
    seed = tf.cast(tf.math.floormod(seed_generator.next(), tf.int32.max - 1), tf.int32)
    shape = tf.shape(inputs)
    last = inputs.shape[-1]
    if last is not None and last % 2 == 0:
        # Two 16-bit halves of each 32-bit word, one per element along the last axis.
        words = tf.random.stateless_uniform(tf.concat([shape[:-1], [last // 2]], 0), seed,
                                            minval=None, maxval=None, dtype=tf.uint32)
        bits = tf.reshape(tf.bitcast(words, tf.uint16), shape)
    else:
        words = tf.random.stateless_uniform(shape, seed, minval=None, maxval=None,
                                            dtype=tf.uint32)
        bits = tf.bitwise.right_shift(words, 32 - RANDOM_BITS)
    # A multiplier, not a select: the backward pass is one multiplication by the same mask.
    mask = tf.cast(bits >= threshold, inputs.dtype) * (levels / (levels - threshold))
    return inputs * tf.stop_gradient(mask)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SelfAttention(keras.layers.MultiHeadAttention):
    """MultiHeadAttention whose attention weights are computed as described above.

    Only the step between the projections changes (`_compute_attention`, which Keras documents
    as the method to override); any call this does not cover goes to Keras' own code.
    """

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, **kwargs):
        if (return_attention_scores or kwargs or len(query.shape) != 4
                or (attention_mask is not None and len(attention_mask.shape) != 3)):
            return super()._compute_attention(query, key, value, attention_mask, training,
                                              return_attention_scores, **kwargs)
        query = query * tf.cast(self._inverse_sqrt_key_dim, query.dtype)
        # [batch, query position, head, depth] x [batch, key position, head, depth]
        logits = tf.cast(tf.einsum("BTNH,BSNH->BNTS", query, key, optimize="optimal"),
                         tf.float32)
        if attention_mask is not None:
            # [batch, query, key] booleans -> one bias per head. A fully masked row (a padded
            # query) becomes uniform rather than zero; nothing downstream reads padded rows.
            bias = tf.where(tf.cast(attention_mask, tf.bool), 0.0, -1e9)
            logits = logits + tf.expand_dims(bias, 1)
        weights = tf.cast(tf.nn.softmax(logits, axis=-1), value.dtype)
        if training and self._dropout > 0:
            # The seed generator of Keras' own attention-dropout layer: its state is what
            # backups save, so a resumed run draws the same numbers.
            weights = dropout(weights, self._dropout, self._dropout_layer.seed_generator)
        return tf.einsum("BNTS,BSNH->BTNH", weights, value, optimize="optimal"), None
