"""Two corrections that let Keras 3 `model.fit` train under tf.distribute with several replicas.

Upstream bug: keras-team/keras issue 20585 (open; reproduced here with Keras 3.15.1). Both spots
are in keras/src/backend/tensorflow/trainer.py:

1. `TensorFlowTrainer._maybe_symbolic_build` builds the model from the first batch, which it
   gets by averaging the replicas' batches with `strategy.reduce("MEAN", ...)`. Averaging the
   data itself fails for string inputs (`AddN` has no string kernel; bigmodel's text models
   now train on word ids, but a CSV text column is still a string) under any multi-replica
   strategy, and under MultiWorkerMirroredStrategy it is a collective across workers. Building
   needs only shapes and dtypes, so one replica's batch will do.
2. `reduce_per_replica` reduces each step's metrics in multi-worker mode with
   `strategy.reduce("MEAN", value, axis=0)`; metrics are scalars and have no axis 0. The mean
   across replicas, element by element, is `axis=None`.

A third limit has no fix here: Keras runs several steps per execution in a `tf.while_loop` with
a `tf.cond` around each step, and MirroredStrategy cannot run a step inside `tf.cond`
(keras-team/keras issue 19246, open: "You must feed a value for placeholder tensor").
`limit_steps_per_execution` keeps mirrored runs at one step per execution.

The fixes replace a method and a module function of Keras, so they hold for the whole process;
`apply` installs them once, only for a multi-replica strategy and only on Keras versions known to
need them. Check again (and move AFFECTED_VERSIONS) when upgrading Keras: tests/test_distribute*
fail if a newer Keras still needs them.
"""

from __future__ import annotations

import functools

from ..errors import ConfigError

# Keras versions with these bugs: from 3.0 (the TensorFlow trainer of Keras 3) up to, not
# including, the second version. 3.15.1 is the newest one checked.
AFFECTED_VERSIONS = ((3, 0), (3, 16))


def needs_fixes(keras_version: str) -> bool:
    major_minor = tuple(int(part) for part in keras_version.split(".")[:2])
    first, fixed = AFFECTED_VERSIONS
    return first <= major_minor < fixed


def apply(strategy) -> bool:
    """Install the fixes when `strategy` has several replicas; return whether they are in place."""
    import keras

    if strategy.num_replicas_in_sync < 2 or not needs_fixes(keras.__version__):
        return False
    from keras.src.backend.tensorflow import trainer

    if not getattr(trainer, "_bigmodel_fixes", False):
        trainer.TensorFlowTrainer._maybe_symbolic_build = _build_from_one_replica(
            trainer.TensorFlowTrainer._maybe_symbolic_build)
        trainer.reduce_per_replica = _mean_across_workers(trainer.reduce_per_replica)
        trainer._bigmodel_fixes = True
    return True


def limit_steps_per_execution(options: dict, setting, strategy) -> dict:
    """`model.compile` options with one step per execution under a mirrored strategy with
    several replicas (keras-team/keras issue 19246); `setting` is the config's value."""
    import keras
    import tensorflow as tf

    mirrored = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    if (options.get("steps_per_execution", 1) == 1 or strategy.num_replicas_in_sync < 2
            or not isinstance(strategy, mirrored) or not needs_fixes(keras.__version__)):
        return options
    if setting != "auto":
        raise ConfigError(
            f"training.steps_per_execution: {setting} steps per execution fail with "
            f"{strategy.num_replicas_in_sync} mirrored replicas in Keras {keras.__version__} "
            "(keras-team/keras issue 19246); use 1 or auto")
    return {**options, "steps_per_execution": 1}


def _build_from_one_replica(original):
    @functools.wraps(original)
    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and self._distribute_strategy is not None:
            data_batch = _first_replica_batch(iterator, self._distribute_strategy)
        return original(self, iterator=None, data_batch=data_batch)

    return maybe_symbolic_build


def _first_replica_batch(epoch_iterator, strategy):
    import tensorflow as tf

    for _, _, batches in epoch_iterator:
        batch = next(batches)
        break
    else:
        return None

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return tf.nest.map_structure(local, batch)


def _mean_across_workers(original):
    @functools.wraps(original)
    def reduce_per_replica(values, strategy, reduction):
        import tensorflow as tf

        if reduction in ("auto", "mean") and _is_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return original(values, strategy, reduction)

    return reduce_per_replica


def _is_multi_worker(strategy) -> bool:
    import tensorflow as tf

    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())
