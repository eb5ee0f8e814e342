"""Poisson sampling for private training: each example joins each step on its own, with
probability `rate`, so batches vary in size (B = rate x N on average).

Step t's batch is drawn from a stateless generator keyed on (seed, t): any step's batch can be
made again from its number alone, so a resumed run starts at its step with no state to keep.
The seed must be secret (train/privacy.py): amplification by sampling assumes nobody knows who
was in a batch.
"""

from __future__ import annotations


def poisson_batches(count: int, rate: float, seed: int):
    """A function first_step -> endless tf.data stream of index vectors, one per step."""
    import tensorflow as tf

    base = tf.constant(seed, tf.int64)

    def draw(step):
        chance = tf.random.stateless_uniform([count], seed=tf.stack([base, step]))
        return tf.where(chance < rate)[:, 0]  # int64 indices, in index order

    def from_step(first_step: int):
        return tf.data.Dataset.counter(first_step, dtype=tf.int64).map(draw)

    return from_step
