"""DP-SGD in Keras 3 on TensorFlow: the private train step, and the callback that accounts.

One step: a gradient per example (vectorized with `tf.vectorized_map`), each clipped to global
L2 norm C, summed, plus Gaussian noise of std C x sigma, divided by the expected batch size,
then the optimizer's own update. tensorflow-privacy does not import on TF 2.21 (it needs
tensorflow_estimator and pins TF <= 2.15), hence this small version.

The noise of step t, and under Poisson sampling the batch of step t, come from stateless
generators keyed on (secret, t), t being the optimizer's step counter. The secret is drawn when
the run starts (not from the config's seed: whoever knew the noise or the batches could undo
the privacy) and kept in the run's backups only, which the finished run deletes; a resumed run
reads it back and draws the noise and batches an uninterrupted one would.

Dropout masks differ per example: each example's forward pass runs in a
`stateless_call` whose seed states are offset by the example's place in the batch, and the
layers' seed generators advance once per step outside the vectorized map (an assignment cannot
be vectorized); backups keep those states already (checkpoints.py).

Under MirroredStrategy (one machine, several devices) `train_step` runs once per replica on
its share of the global batch: each replica clips its own examples and sums them, the
optimizer all-reduces (sums) the replicas' updates, and only the first replica adds the noise,
so the global sum carries it once, drawn from the same (secret, step) key as on one device.
Every replica divides by the expected global batch size; a Poisson batch is one global draw,
split across the replicas.
"""

from __future__ import annotations

import secrets
import types
from dataclasses import dataclass

import keras
import tensorflow as tf

from ..errors import UsageError
from ..runtime import per_example_conv
from . import accounting

SEED_STRIDE = 1_000_003  # a prime: examples of one batch get seed states far apart
REPLICA_STRIDE = 1 << 20  # places of one replica's examples after another's (a bound on B)


class Secret:
    """The key of the noise (first number) and of the Poisson batches (second)."""

    def __init__(self, seed: int | None):
        values = [seed, seed + 1] if seed is not None else [secrets.randbits(62) for _ in "ab"]
        self.variable = tf.Variable(values, dtype=tf.int64, trainable=False, name="dp_secret")

    @property
    def values(self) -> list[int]:
        return [int(value) for value in self.variable.numpy()]

    def get_state(self) -> dict:
        return {"secret": self.values}

    def set_state(self, state: dict) -> None:
        self.variable.assign(state["secret"])


@dataclass
class PrivateRun:
    plan: accounting.Plan
    secret: Secret


def make_private(model, private: PrivateRun) -> None:
    """Give `model` the DP-SGD train step (Keras' `fit` calls `model.train_step`).

    An instance attribute, not a subclass: the model's class and its saved form stay those of
    a plain Keras model, so checkpoints load anywhere without bigmodel's privacy code."""
    per_example_conv.install()  # per-example conv filter gradients in one op, not a loop
    plan = private.plan
    model.train_step = types.MethodType(
        _private_step(plan.l2_norm_clip, plan.noise_multiplier,
                      float(plan.sampling.batch_size), private.secret.variable), model)


def per_example_gradients(model, x, y):
    """(gradients, losses, predictions) of each example of the batch (x, y), vectorized.

    Each gradient is a list like `model.trainable_variables`, with the batch axis first."""
    trainable = [variable.value for variable in model.trainable_variables]
    non_trainable = [variable.value for variable in model.non_trainable_variables]
    seeds = _seed_positions(model)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync

    def one_example(example):
        x_one, y_one, place = example
        x_one, y_one = (tf.nest.map_structure(lambda tensor: tensor[tf.newaxis], part)
                        for part in (x_one, y_one))
        state = list(non_trainable)
        for position in seeds:  # this example's own dropout masks
            state[position] = state[position] + tf.stack(
                [(place + 1) * SEED_STRIDE, tf.zeros_like(place)])
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            prediction, _ = model.stateless_call(trainable, state, x_one, training=True)
            # Keras divides the loss by the number of replicas (their gradients are summed);
            # each example's gradient must be its own, whole, before it is clipped.
            loss = model.compute_loss(x=x_one, y=y_one, y_pred=prediction,
                                      training=True) * replicas
        gradients = tape.gradient(loss, trainable, unconnected_gradients="zero")
        return gradients, loss, tf.nest.map_structure(lambda tensor: tensor[0], prediction)

    count = tf.shape(tf.nest.flatten(y)[0])[0]
    dtype = model.non_trainable_variables[seeds[0]].dtype if seeds else tf.int64
    # Replicas share the seed states: their examples take other places, other masks.
    places = tf.range(count, dtype=dtype) + tf.cast(_replica_id(), dtype) * REPLICA_STRIDE
    gradients, losses, predictions = tf.vectorized_map(one_example, (x, y, places))
    for position in seeds:  # the generators advance once per step, as in a plain step
        variable = model.non_trainable_variables[position]
        variable.assign(variable + tf.constant([0, 1], variable.dtype))
    return gradients, losses, predictions


def clip_each(gradients, l2_norm_clip: float):
    """Each example's gradient scaled to global L2 norm at most C; (clipped, norms)."""
    count = tf.shape(gradients[0])[0]
    squares = [tf.reduce_sum(tf.reshape(tf.square(gradient), [count, -1]), axis=1)
               for gradient in gradients]
    norms = tf.sqrt(tf.add_n(squares))
    # C / max(norm, C): 1 for gradients already within C, never a division by zero.
    scale = l2_norm_clip / tf.maximum(norms, l2_norm_clip)
    clipped = [gradient * tf.reshape(scale, [-1] + [1] * (gradient.shape.rank - 1))
               for gradient in gradients]
    return clipped, norms


def add_noise(sums, stddev: float, seed, step):
    """`sums` plus Gaussian noise of standard deviation `stddev`, drawn for step `step`
    from a stateless generator keyed on (seed, step): the same step, the same noise."""
    sizes = [tf.size(total) for total in sums]
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    noise = tf.random.stateless_normal([tf.add_n(sizes)], seed=key, stddev=stddev)
    pieces = tf.split(noise, sizes)
    return [total + tf.reshape(piece, tf.shape(total))
            for total, piece in zip(sums, pieces, strict=True)]


def _private_step(l2_norm_clip: float, noise_multiplier: float, expected_batch: float,
                  secret):
    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        count = tf.shape(tf.nest.flatten(y)[0])[0]

        def clipped_sums():
            gradients, losses, predictions = per_example_gradients(self, x, y)
            clipped, _ = clip_each(gradients, l2_norm_clip)
            self._loss_tracker.update_state(tf.reduce_mean(losses), sample_weight=count)
            self.compute_metrics(x, y, predictions)  # updates the metrics' state
            return [tf.reduce_sum(gradient, axis=0) for gradient in clipped]

        def no_examples():  # Poisson sampling may draw an empty batch: the noise alone
            return [tf.zeros_like(variable.value) for variable in self.trainable_variables]

        sums = tf.cond(count > 0, clipped_sums, no_examples)
        noised = add_noise(sums, noise_on_this_replica(l2_norm_clip * noise_multiplier),
                           secret[0], self.optimizer.iterations.value)
        # Divided by the expected (global) batch size, not the drawn one: the drawn size
        # depends on who is in the batch, and would leak it. `apply` sums the replicas'.
        self.optimizer.apply([total / expected_batch for total in noised],
                             self.trainable_variables)
        return self.get_metrics_result()

    return train_step


def noise_on_this_replica(stddev: float):
    """The noise's standard deviation for this replica: all of it on the first, none on the
    others, so the all-reduced sum carries it once (every replica draws the same noise from
    the same key: added on each, the sum would carry it `replicas` times)."""
    return tf.where(tf.equal(_replica_id(), 0), stddev, 0.0)


def _replica_id():
    """This replica's number in its strategy's group (0 outside any strategy)."""
    context = tf.distribute.get_replica_context()
    return 0 if context is None else context.replica_id_in_sync_group


def _seed_positions(model) -> list[int]:
    return [index for index, variable in enumerate(model.non_trainable_variables)
            if "seed_generator" in variable.path]


class PrivacyAccountant(keras.callbacks.Callback):
    """After each epoch: epsilon (PLD and RDP) into the logs, so metrics.jsonl and the epoch
    line carry it; at the last epoch the budget allows, a clear line and the stop."""

    def __init__(self, private: PrivateRun, steps_per_epoch: int, epochs: int, say):
        super().__init__()
        self.plan, self.secret = private.plan, private.secret
        self.steps_per_epoch, self.epochs, self.say = steps_per_epoch, epochs, say
        self.stopped_by_budget = False

    def get_state(self) -> dict:  # kept in each backup (RunGuard): a resume reads it back
        return self.secret.get_state()

    def set_state(self, state: dict) -> None:
        self.secret.set_state(state)

    def on_epoch_end(self, epoch, logs=None):
        spent = self.plan.spent((epoch + 1) * self.steps_per_epoch)
        if logs is not None:
            logs["epsilon"], logs["epsilon_rdp"] = spent["pld"], spent["rdp"]
        within = self.plan.epochs_within_budget
        if within is not None and epoch + 1 >= within and epoch + 1 < self.epochs:
            self.stopped_by_budget = True
            self.model.stop_training = True
            self.say(f"privacy: stopping after epoch {epoch + 1}: epsilon is {spent['pld']:.3f} "
                     f"and one more epoch would exceed epsilon_budget {self.plan.budget:g}; "
                     "the run ends there, as with early stopping, its checkpoints kept")


# --- what the runner asks of training.privacy -------------------------------------------

def plan_for(config, examples: int, steps_per_epoch: int, strategy, console):
    """training.privacy resolved (sigma searched for a target) and printed, with a new secret
    (a resumed run restores its own); None without privacy."""
    privacy = config.training.privacy
    if privacy is None:
        return None
    _check_strategy(config, strategy)
    epochs = config.training.epochs
    plan = accounting.make_plan(privacy, examples, config.data.batch_size, steps_per_epoch,
                                epochs)
    for line in accounting.describe(plan, steps_per_epoch * epochs, epochs):
        console.print(line, highlight=False)
    return PrivateRun(plan, Secret(privacy.secret_seed))


def _check_strategy(config, strategy) -> None:
    """What `auto` picked, checked as config/privacy_checks.py checks a named strategy."""
    from ..config.privacy_checks import clipnorm_with_replicas

    if strategy.num_replicas_in_sync == 1:
        return
    name = type(strategy).__name__
    if not isinstance(strategy, tf.distribute.MirroredStrategy):
        raise UsageError(f"training.privacy runs on one machine, and distribute.strategy "
                         f"picked {name} with {strategy.num_replicas_in_sync} replicas; set "
                         "distribute.strategy: mirrored, gpu or cpu")
    for key in ("clipnorm", "global_clipnorm"):
        if getattr(config.optimizer, key) is not None:
            raise UsageError(f"optimizer.{key}: {clipnorm_with_replicas(key)}")


def index_batches(private: PrivateRun | None):
    """Poisson sampling's batches of indices (data/poisson.py), keyed on the secret (read when
    the stream is made: after a resume restored it); None: the usual permutations."""
    if private is None or private.plan.sampling.kind != "poisson":
        return None
    from ..data.poisson import poisson_batches

    sampling = private.plan.sampling
    return poisson_batches(sampling.examples, sampling.rate, private.secret.values[1])


def callbacks(private: PrivateRun | None, steps_per_epoch: int, epochs: int, console) -> dict:
    """{"privacy": the accountant}, a stateful callback (its state: the secret)."""
    if private is None:
        return {}
    return {"privacy": PrivacyAccountant(private, steps_per_epoch, epochs,
                                         lambda line: console.print(line, highlight=False))}


def report(private: PrivateRun, steps: int, console) -> dict:
    """results.json's privacy entry, and its line."""
    found = private.plan.report(steps)
    console.print(f"privacy: epsilon {found['epsilon']:.3f} (PLD), {found['epsilon_rdp']:.3f} "
                  f"(RDP) at delta {private.plan.delta:g} after {steps:,} steps",
                  highlight=False)
    return found
