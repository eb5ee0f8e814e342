"""From a source's `RawData` to a `DataBundle`: splits, input spec and tf.data pipelines.

Splits are cut from what the source lists (arrays, or file paths: cheap, deterministic and
stratified); files are decoded by the pipeline. Where each split's examples are kept is
`caching`'s part, the input spec `describe`'s. TensorFlow is imported inside the functions
that need it: importing `bigmodel_cli.data.spec` (for a saved input spec) must stay cheap.
"""

from __future__ import annotations

import numpy as np

from .. import tasks
from ..errors import DataError
from . import augment, tables
from .bad_files import BadFiles
from .bundle import DataBundle
from .caching import Caching
from .describe import (  # noqa: F401  (names the dry run and tests read from here)
    DEFAULT_TEXT_LENGTH,
    DEFAULT_TEXT_VOCABULARY,
    RESERVED_TEXT_TOKENS,
    describe_inputs,
)
from .spec import (
    IMAGE,
    TABLE,
    TEXT,
    TOKENS,
    VECTOR,
    RawData,
    Split,
    StreamedSplit,
    TargetSpec,
)
from .splits import SPLIT_CUT, cap_examples, cut_splits


def make_bundle(raw: RawData, data_config, seed: int, *, run_dir=None, console=None,
                budget=None) -> DataBundle:
    """Cut the missing splits, describe the inputs, and plan batched tf.data pipelines.

    A split's cache is filled when the split is first used (`DataBundle.fill` fills them
    all); `run_dir` holds caches on disk; `console` gets a line per split saying where it is."""
    train, validation, test = cut_splits(
        raw.train, raw.validation, raw.test,
        validation_fraction=data_config.validation_split,
        test_fraction=data_config.test_split,
        task=raw.task, seed=seed)
    if isinstance(train, StreamedSplit):
        train = train.first(data_config.max_examples) if data_config.max_examples else train
    else:
        train = cap_examples(train, data_config.max_examples, seed)
    task = tasks.get(raw.task)  # the data's own task: it decides how labels travel
    splits = convert_splits(raw, {"train": train, "validation": validation, "test": test},
                            data_config, task)
    bad_files = BadFiles(raw.skipped)
    caching = Caching(data_config, raw, bad_files, run_dir, console, budget)
    for note in raw.notes:
        caching.log(note)
    examples = {name: caching.examples(name, split) for name, split in splits.items()}

    input_kind = raw.input_kind  # not `raw`: the pipelines must not keep the source's arrays

    def build(split_examples, training: bool, first_step: int | None, index_batches=None):
        return to_dataset(split_examples, data_config, seed, input_kind,
                          training=training, first_step=first_step, index_batches=index_batches)

    bundle = DataBundle(examples, None, None, build, bad_files, caching.refusing_after)
    with bad_files.reading():  # the statistics pass may meet a file that stops the run
        # Statistics the model holds (regression: the targets' mean and std), from train only.
        bundle.target = task.prepare_target(
            TargetSpec(task=raw.task, class_names=list(raw.class_names)),
            training_labels(splits["train"], bundle))
        bundle.input_spec = describe_inputs(raw, splits, bundle, data_config)
    augment.make_augmenter(data_config.augment, raw.input_kind, seed)  # a mistake fails here
    if validation is not raw.validation or test is not raw.test:
        bundle.split_cut = SPLIT_CUT
    return bundle


def convert_splits(raw: RawData, splits: dict, data_config, task) -> dict:
    """Arrays as the pipelines carry them; file paths and streams as they are."""
    convert = (lambda x: x) if raw.files is not None else input_converter(raw, data_config)
    return {name: split if split is None or isinstance(split, StreamedSplit)
            else Split(convert(split.x), task.convert_labels(split.y))
            for name, split in splits.items()}


def training_labels(train, bundle) -> np.ndarray:
    """The training split's labels: listed by the source, kept by its cache, or read from its
    stream (labels only are kept)."""
    if isinstance(train, Split):
        return train.y
    labels = getattr(bundle.examples("train"), "labels", None)
    if labels is None:
        labels = np.concatenate([y.numpy() for _, y in train.read().batch(1024)])
    return labels


# --- inputs -------------------------------------------------------------------------------

def input_converter(raw: RawData, data_config):
    """The function that turns a source's x into the arrays the pipelines carry."""
    if raw.input_kind == TABLE:
        convert = tables.as_columns
    elif raw.input_kind == IMAGE:
        def convert(x):
            # Pixels stay in [0, 255] (the model scales them). Bytes stay bytes, a quarter of
            # the memory of float32: to_dataset casts each batch.
            x = np.asarray(x)
            x = x if x.dtype == np.uint8 else x.astype(np.float32)
            return x[..., np.newaxis] if x.ndim == 3 else x  # grayscale without a channel axis
    elif raw.input_kind == VECTOR:
        def convert(x):
            return np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    elif raw.input_kind == TOKENS:
        import keras

        length = data_config.sequence_length or max(
            longest_sequence(split.x) for split in present_splits(raw))

        def convert(x):
            # Padding and cutting at the end, like TextVectorization does for text.
            return keras.utils.pad_sequences(
                list(x), maxlen=length, dtype="int32", padding="post", truncating="post")
    elif raw.input_kind == TEXT:
        def convert(x):
            return np.asarray([str(text) for text in x], dtype=object)
    else:
        raise DataError(
            f"unknown input kind '{raw.input_kind}'; known: image, table, text, tokens, vector")
    return convert


def present_splits(raw: RawData) -> list[Split]:
    return [split for split in (raw.train, raw.validation, raw.test) if split is not None]


def longest_sequence(sequences) -> int:
    return max((len(sequence) for sequence in sequences), default=1)


# --- tf.data ------------------------------------------------------------------------------

def to_dataset(examples, data_config, seed: int, input_kind: str, *, training: bool,
               first_step: int | None = None, index_batches=None):
    """Batched, prefetched pipeline of one split; only training is permuted and augmented.

    Training visits the examples in a new full seeded permutation every pass: sources list
    them class after class, and a shuffle buffer smaller than the data would feed batches of
    one or two classes. `first_step`: the endless stream of a run, from that batch on.
    A stream without random access (tfds, no cache) is mixed by a shuffle buffer instead.
    `index_batches`: first step -> the run's batches of indices (Poisson sampling, poisson.py),
    in place of the permutations.
    """
    import tensorflow as tf

    parallel = {"num_parallel_calls": tf.data.AUTOTUNE,
                "deterministic": data_config.deterministic}
    augmenter = augment.make_augmenter(data_config.augment, input_kind, seed) \
        if training else None
    # Skipping batch indices skips the reading too; but augmentation draws from a random
    # state batch after batch, so a resumed stream must pass the batches it skips through it.
    skip_indices = bool(first_step) and examples.random_access and augmenter is None
    if index_batches is not None:
        if not examples.random_access:
            raise DataError("training.privacy.sampling: poisson picks examples by index, and "
                            "this split is a stream; set data.cache: memory or disk, or "
                            "sampling: shuffle")
        dataset = examples.fetch(index_batches(first_step if skip_indices else 0), parallel)
    elif examples.random_access:
        order = epoch_order(len(examples), seed) if training \
            else tf.data.Dataset.range(len(examples))
        order = order.batch(data_config.batch_size)
        if first_step is not None:
            order = order.repeat()
        if skip_indices:
            order = order.skip(first_step)
        dataset = examples.fetch(order, parallel)
    else:
        dataset = examples.batches(data_config.batch_size, seed, training)
        if first_step is not None:
            dataset = dataset.repeat()
    if getattr(dataset.element_spec[0], "dtype", None) == tf.uint8:
        # Image bytes become the float32 pixels the spec promises, a batch at a time.
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y), **parallel)
    if augmenter:
        dataset = dataset.map(lambda x, y: (augmenter(x), y), **parallel)
    if first_step and not skip_indices:
        dataset = dataset.skip(first_step)
    options = tf.data.Options()
    options.deterministic = data_config.deterministic
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def epoch_order(count: int, seed: int):
    """Example indices, all `count` of them in a new seeded permutation on every pass; fresh
    datasets give the same sequence of passes, which exact resume relies on.

    One stateless shuffle of the index vector per pass, from a per-pass seed: at 1M examples
    it took ~0.2 s on 2 CPU cores where filling a shuffle buffer of the data's size took
    ~1.8 s, a stall at the start of every epoch."""
    import tensorflow as tf

    base = tf.constant(seed % 2**31, tf.int64)

    def permute(pass_seed):
        return tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([pass_seed, base]))

    passes = tf.data.Dataset.random(seed=seed % 2**31, rerandomize_each_iteration=True)
    indices = passes.take(1).map(permute).unbatch()
    return indices.apply(tf.data.experimental.assert_cardinality(count))
