"""`bigmodel config validate --dry-run`: everything a run builds, one step, and no data download.

The input spec comes from what is known without the data (synthetic data is generated
exactly; scikit-learn and keras datasets from a table of their shapes; tfds from the info of a
locally prepared dataset). The model is built and compiled inside the strategy that training
would use, and one training step runs on a random batch of the right shape and dtype.
"""

from __future__ import annotations

import math

import numpy as np

from ..config.schema import Config
from ..data import keras_source, pipeline, sklearn_source, tfds_source
from ..data.spec import (
    IMAGE,
    NUMERIC,
    REGRESSION,
    TABLE,
    TEXT,
    TOKENS,
    VECTOR,
    InputSpec,
    TargetSpec,
)
from ..errors import DataError, UsageError, lookup
from ..runtime import distribute
from ..runtime.tfenv import import_tensorflow
from ..tasks.names import classification_task
from . import assemble

# (input kind, example shape, class names); an empty list of names means regression.
SKLEARN_SHAPES = {
    "digits": (IMAGE, (8, 8, 1), [str(digit) for digit in range(10)]),
    "iris": (VECTOR, (4,), ["setosa", "versicolor", "virginica"]),
    "wine": (VECTOR, (13,), ["class_0", "class_1", "class_2"]),
    "breast_cancer": (VECTOR, (30,), ["malignant", "benign"]),
    "diabetes": (VECTOR, (10,), []),
}
KERAS_IMAGE_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1),
                      "cifar10": (32, 32, 3), "cifar100": (32, 32, 3)}
KERAS_CLASS_COUNTS = {"reuters": 46}  # datasets whose class names keras reads from a download
TEXT_WORDS_PER_EXAMPLE = 12


def dry_run(config: Config, verbose: bool = False, strategies: dict | None = None) -> dict:
    """Build data spec, strategy, model and optimizer; take one step; return what it cost.

    `strategies` lets several dry runs in one process share a strategy per distribute
    section: two MirroredStrategy objects in one process reuse collective ids and clash.
    """
    tf = import_tensorflow(verbose)
    import keras

    from . import flops

    try:  # before anything touches a device: logical devices are fixed at the first use
        distribute.configure_devices(tf, config.distribute)
    except RuntimeError:
        raise UsageError("distribute.cpu_devices differs from a config dry-run earlier in this "
                         "command; TensorFlow fixes devices once per process, so dry-run "
                         "this config on its own") from None
    input_spec, target = spec_without_download(config.data, config.seed)
    keras.backend.clear_session()  # a fresh graph per config when several are checked
    keras.utils.set_random_seed(config.seed)
    strategy = _strategy(tf, config, {} if strategies is None else strategies)
    batch_size = config.data.batch_size
    distribute.check_batch_size(batch_size, strategy.num_replicas_in_sync)
    training = config.training
    # Without the data the epoch's length is unknown; it sizes decay schedules and must be a
    # multiple of steps_per_execution, so take one that is (fit is never called here).
    steps_per_epoch = training.steps_per_epoch or (
        training.steps_per_execution if isinstance(training.steps_per_execution, int) else 1)
    assembled = assemble.compiled_model(tf, config, strategy, input_spec, target,
                                        steps_per_epoch)
    model, task, policy = assembled.model, assembled.task, assembled.policy
    x, y = synthetic_batch(input_spec, task, target, batch_size, config.seed)
    # Keras takes no numpy object arrays; string tensors it does.
    if input_spec.kind == TEXT:
        x = tf.constant(list(x))
        if assembled.vectorize is not None:
            x = assembled.vectorize(x)  # what the input pipeline does for training
    elif input_spec.kind == TABLE:
        x = {name: tf.constant(list(values)) if values.dtype == object else values
             for name, values in x.items()}
    logs = model.train_on_batch(x, y, return_dict=True)
    cost = flops.estimate(model)
    placement = distribute.describe(strategy, batch_size)
    activation_bytes = np.dtype(keras.DTypePolicy(policy).compute_dtype).itemsize
    return {
        "strategy": placement["strategy"],
        "replicas": placement["replicas"],
        "batch_size": batch_size,
        "precision": policy,
        "precision_reason": assembled.policy_reason,
        "input": f"{input_spec.kind} {tuple(input_spec.shape)} {input_spec.dtype}",
        "task": task.name,
        "parameters": model.count_params(),
        "trainable_parameters": sum(math.prod(w.shape) for w in model.trainable_weights),
        "forward_flops": cost.forward_flops,
        "training_flops": cost.training_flops,
        # language models: per token, 6 x parameters + 12 x layers x context x width
        "training_flops_per_token": cost.training_flops // input_spec.shape[0]
        if input_spec.tokenizer else None,
        "memory": memory_estimate(model, cost.activations * activation_bytes,
                                  placement["per_replica_batch"]),
        "loss": float(logs["loss"]),
    }


def _strategy(tf, config: Config, strategies: dict):
    from ..runtime import keras_compat

    key = config.distribute.model_dump_json()
    if key not in strategies:
        strategies[key] = distribute.make_strategy(tf, config.distribute)
    keras_compat.apply(strategies[key])  # as training does, for several replicas
    return strategies[key]


def memory_estimate(model, activation_bytes: int, examples: int) -> dict[str, int]:
    """Bytes one replica holds in a training step (a lower bound: no framework overhead).

    `activation_bytes` is per example: `flops.estimate`'s count times the compute dtype's size.
    """
    parts = {
        "parameters": _bytes(model.weights),
        "gradients": _bytes(model.trainable_weights),
        "optimizer": _bytes(model.optimizer.variables),
        "activations": activation_bytes * examples,
    }
    return {**parts, "total": sum(parts.values())}


def _bytes(variables) -> int:
    return sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables)


# --- the input spec without the data ------------------------------------------------------

def spec_without_download(data_config, seed: int) -> tuple[InputSpec, TargetSpec]:
    reader = {"sklearn": _sklearn_spec, "keras": _keras_spec, "tfds": _tfds_spec}.get(
        data_config.source, _loaded_spec)
    return reader(data_config, seed)


def _loaded_spec(data_config, seed: int) -> tuple[InputSpec, TargetSpec]:
    # Synthetic data is generated, other sources read local files: loading them is exact and
    # downloads nothing. Only keras and tfds download; they have their own readers above.
    from .. import data

    # Only the specs: nothing decoded into a cache (an image folder's size, with
    # data.image_size: auto, is read from a sample of its files; text is read for its words).
    bundle = data.load(data_config, seed, fill=False)
    return bundle.input_spec, bundle.target


def _sklearn_spec(data_config, seed: int) -> tuple[InputSpec, TargetSpec]:
    if data_config.name not in SKLEARN_SHAPES:
        lookup(sklearn_source.DATASETS, "scikit-learn dataset", data_config.name)
        return _loaded_spec(data_config, seed)  # bundled with scikit-learn: local
    kind, shape, class_names = SKLEARN_SHAPES[data_config.name]
    return _table_spec(kind, shape, class_names)


def _keras_spec(data_config, seed: int) -> tuple[InputSpec, TargetSpec]:
    dataset = lookup(keras_source.DATASETS, "keras dataset", data_config.name)
    class_names = list(dataset.class_names) or [
        str(index) for index in range(KERAS_CLASS_COUNTS.get(data_config.name, 0))]
    if dataset.kind == TEXT and class_names:
        return _text_spec(data_config), _target(class_names)
    if data_config.name not in KERAS_IMAGE_SHAPES or not class_names:
        raise DataError(f"a dry run does not know the shape of keras dataset "
                        f"'{data_config.name}'; run without --dry-run")
    return _table_spec(IMAGE, KERAS_IMAGE_SHAPES[data_config.name], class_names)


def _tfds_spec(data_config, seed: int) -> tuple[InputSpec, TargetSpec]:
    builder = tfds_source.make_builder(data_config.name, data_config.data_dir)
    if not builder.is_prepared():
        raise DataError(
            f"tfds dataset '{data_config.name}' is not prepared in {builder.data_dir_root}, and "
            "a dry run never downloads; prepare it with `bigmodel train` (with network) or "
            f"`tfds build {data_config.name} --data_dir DIR`, or drop --dry-run")
    kind, class_names, _ = tfds_source.describe_features(data_config.name, builder.info)
    feature = builder.info.features[builder.info.supervised_keys[0]]
    if kind == TEXT:
        return _text_spec(data_config), _target(class_names)
    shape = tuple(feature.shape)
    if kind != IMAGE:
        shape = (math.prod(shape),)  # the pipeline flattens numeric features
    return _table_spec(kind, shape, class_names)


def _text_spec(data_config) -> InputSpec:
    """Raw text: the vocabulary is learned from the data, with at most this many words."""
    words = (data_config.vocab_size or pipeline.DEFAULT_TEXT_VOCABULARY) \
        - pipeline.RESERVED_TEXT_TOKENS
    length = data_config.sequence_length or pipeline.DEFAULT_TEXT_LENGTH
    return InputSpec(kind=TEXT, shape=(), dtype="string", sequence_length=length,
                     vocabulary=[f"word{index}" for index in range(words)],
                     vocab_size=words + pipeline.RESERVED_TEXT_TOKENS)


def _table_spec(kind: str, shape: tuple, class_names: list[str]) -> tuple[InputSpec, TargetSpec]:
    if kind == IMAGE:
        spec = InputSpec(kind=IMAGE, shape=shape, dtype="float32", scale=1 / 255)
    else:
        # Neutral statistics keep the Normalization layer, as the real spec would.
        spec = InputSpec(kind=kind, shape=shape, dtype="float32",
                         mean=[0.0] * shape[0], variance=[1.0] * shape[0])
    return spec, _target(class_names)


def _target(class_names: list[str]) -> TargetSpec:
    task = classification_task(len(class_names)) if class_names else REGRESSION
    return TargetSpec(task=task, class_names=list(class_names))


# --- a random batch -----------------------------------------------------------------------

def synthetic_batch(spec: InputSpec, task, target: TargetSpec, batch_size: int, seed: int):
    """Random inputs of the spec's shape and dtype, and labels for the task."""
    rng = np.random.default_rng(seed % 2**32)
    shape = (batch_size, *spec.shape)
    if spec.kind == TEXT:
        x = _random_text(rng, spec.vocabulary, batch_size)
    elif spec.kind == TABLE:
        from ..data.tables import input_name

        # One named input per column: numbers for numeric columns, strings for the others.
        x = {input_name(column.name): rng.normal(size=batch_size).astype(np.float32)
             if column.type == NUMERIC else _random_text(rng, column.vocabulary, batch_size)
             for column in spec.columns}
    elif spec.kind == TOKENS:
        x = rng.integers(0, spec.vocab_size or 2, shape).astype(np.int32)
    elif spec.kind == IMAGE:
        x = rng.uniform(0, 255, shape).astype(np.float32)
    else:
        x = rng.normal(size=shape).astype(np.float32)
    if spec.tokenizer:  # a language model: a next-token label at every position
        return x, task.synthetic_labels(rng, target, batch_size, spec.shape[0])
    return x, task.synthetic_labels(rng, target, batch_size)


def _random_text(rng, vocabulary: list[str] | None, count: int) -> np.ndarray:
    words = np.asarray(vocabulary or ["word"], dtype=object)
    return np.asarray([" ".join(rng.choice(words, TEXT_WORDS_PER_EXAMPLE))
                       for _ in range(count)], dtype=object)
