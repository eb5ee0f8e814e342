"""From a source's `RawData` to a `DataBundle`: splits, input spec and tf.data pipelines.

Statistics the model will bake into its preprocessing (normalization, vocabulary) are computed
on the training split only, so validation and test scores stay honest.
TensorFlow is imported inside the functions that need it: importing `bigmodel_cli.data.spec`
(for a saved input spec) must stay cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import tasks
from ..errors import DataError
from ..names import TEXT_SPECIAL_TOKENS
from . import augment, images, tables
from .spec import (
    IMAGE,
    TABLE,
    TEXT,
    TOKENS,
    VECTOR,
    DataBundle,
    InputSpec,
    RawData,
    Split,
    TargetSpec,
)
from .splits import cap_examples, cut_splits, random_generator

# A feature whose training variance is below this is treated as constant: it gets variance 1,
# so normalizing only subtracts its mean instead of dividing by (almost) zero.
VARIANCE_FLOOR = 1e-12
DEFAULT_TEXT_VOCABULARY = 20_000
DEFAULT_TEXT_LENGTH = 128
RESERVED_TEXT_TOKENS = len(TEXT_SPECIAL_TOKENS)  # ids 0 (padding) and 1 (unknown words)
SKIPPED_NAMES_SHOWN = 5  # skipped files named in the log; all are counted
CACHE_ORDER_STREAM = 2  # random stream of the cache file's order (splits use 0, 1)


def make_bundle(raw: RawData, data_config, seed: int) -> DataBundle:
    """Cut the missing splits, describe the inputs, and build batched tf.data pipelines.

    `sizes` names all three splits; a split that does not exist has size 0 (and pipeline None).
    """
    train, validation, test = cut_splits(
        raw.train, raw.validation, raw.test,
        validation_fraction=data_config.validation_split,
        test_fraction=data_config.test_split,
        task=raw.task, seed=seed)
    train = cap_examples(train, data_config.max_examples, seed)
    convert = input_converter(raw, data_config)
    task = tasks.get(raw.task)  # the data's own task: it decides how labels travel
    splits = {
        name: None if split is None else Split(convert(split.x), task.convert_labels(split.y))
        for name, split in {"train": train, "validation": validation, "test": test}.items()
    }
    # Statistics the model holds (regression: the targets' mean and std), from train only.
    target = task.prepare_target(TargetSpec(task=raw.task, class_names=list(raw.class_names)),
                                 splits["train"].y)
    input_spec = describe_inputs(raw, splits, data_config)  # checks inputs before tf.data
    augment.make_augmenter(data_config.augment, raw.input_kind, seed)  # a mistake fails here

    def pipeline(name: str, training: bool = False):
        return to_dataset(splits[name], data_config, seed, training=training,
                          image_files=raw.image_files, cache_name=name,
                          input_kind=raw.input_kind)

    def train_stream(first_step: int):
        # A new pipeline per call: tf.data's reshuffle state lives in the dataset object, so
        # only a fresh one gives every process the same sequence of epochs.
        return pipeline("train", training=True).repeat().skip(first_step)

    return DataBundle(
        train=pipeline("train", training=True),
        train_stream=train_stream,
        validation=pipeline("validation"),
        test=pipeline("test"),
        input_spec=input_spec,
        target=target,
        sizes={name: 0 if split is None else len(split) for name, split in splits.items()},
        skipped=len(raw.skipped),
        skipped_names=list(raw.skipped[:SKIPPED_NAMES_SHOWN]),
        labels={name: None if split is None else split.y for name, split in splits.items()},
    )


# --- inputs -------------------------------------------------------------------------------

def input_converter(raw: RawData, data_config):
    """The function that turns a source's x into the arrays the pipelines carry."""
    if raw.input_kind == IMAGE and raw.image_files:
        def convert(x):
            return np.asarray(x, dtype=str)  # file paths: the pipeline decodes them
    elif raw.input_kind == TABLE:
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


def describe_inputs(raw: RawData, splits: dict[str, Split | None], data_config) -> InputSpec:
    """The input spec, from converted splits; statistics come from the training split only."""
    train_x = splits["train"].x
    if raw.input_kind == IMAGE and raw.image_files:
        return InputSpec(kind=IMAGE, shape=tuple(raw.image_files), dtype="float32", scale=1 / 255)
    if raw.input_kind == IMAGE:
        # Pixels in [0, 255] are rescaled by the model; float images already in [0, 1] are not.
        unit_range = train_x.dtype.kind == "f" and train_x.size and float(train_x.max()) <= 1.0
        return InputSpec(kind=IMAGE, shape=train_x.shape[1:], dtype="float32",
                         scale=1.0 if unit_range else 1 / 255)
    if raw.input_kind == TABLE:
        return tables.table_spec(raw, train_x, data_config)
    if raw.input_kind == VECTOR:
        return vector_spec(train_x)
    if raw.input_kind == TOKENS:
        return token_spec(raw, splits, data_config)
    return text_spec(train_x, data_config)


def vector_spec(train_x: np.ndarray) -> InputSpec:
    features = train_x.astype(np.float64)
    variance = features.var(axis=0)
    variance = np.where(variance < VARIANCE_FLOOR, 1.0, variance)
    return InputSpec(
        kind=VECTOR, shape=train_x.shape[1:], dtype="float32",
        mean=[float(value) for value in features.mean(axis=0)],
        variance=[float(value) for value in variance])


def token_spec(raw: RawData, splits: dict[str, Split | None], data_config) -> InputSpec:
    """Token ids in [0, vocab_size), 0 being padding."""
    largest_id = max(int(split.x.max(initial=0)) for split in splits.values() if split is not None)
    vocab_size = raw.vocab_size or data_config.vocab_size or largest_id + 1
    if largest_id >= vocab_size:
        raise DataError(
            f"token id {largest_id} is outside the vocabulary of {vocab_size} ids; "
            "raise data.vocab_size or leave it unset")
    length = splits["train"].x.shape[1]
    return InputSpec(kind=TOKENS, shape=(length,), dtype="int32",
                     vocab_size=vocab_size, sequence_length=length)


def text_spec(train_x: np.ndarray, data_config) -> InputSpec:
    """Raw strings; the vocabulary is learned here so the model can hold it in a layer."""
    import keras

    length = data_config.sequence_length or DEFAULT_TEXT_LENGTH
    vectorizer = keras.layers.TextVectorization(
        max_tokens=data_config.vocab_size or DEFAULT_TEXT_VOCABULARY,
        output_sequence_length=length,
        standardize=tables.standardize_option(data_config.standardize))
    vectorizer.adapt(train_x)
    # Without TEXT_SPECIAL_TOKENS: TextVectorization(vocabulary=...) adds them back itself.
    vocabulary = [str(word) for word in vectorizer.get_vocabulary()[RESERVED_TEXT_TOKENS:]]
    return InputSpec(
        kind=TEXT, shape=(), dtype="string", vocabulary=vocabulary, sequence_length=length,
        vocab_size=len(vocabulary) + RESERVED_TEXT_TOKENS,  # ids the vectorizer can output
        standardize=data_config.standardize)


def present_splits(raw: RawData) -> list[Split]:
    return [split for split in (raw.train, raw.validation, raw.test) if split is not None]


def longest_sequence(sequences) -> int:
    return max((len(sequence) for sequence in sequences), default=1)


# --- tf.data ------------------------------------------------------------------------------

def to_dataset(split: Split | None, data_config, seed: int, *, training: bool,
               image_files: tuple[int, int, int] | None = None, cache_name: str | None = None,
               input_kind: str | None = None):
    """Batched, prefetched pipeline; only the training pipeline is shuffled (every epoch) and
    augmented. `image_files`: x holds paths, read and decoded here in parallel.

    Training visits the examples in a new full seeded permutation every pass: sources list
    them class after class, and a shuffle buffer smaller than the data would feed batches of
    one or two classes. The exception is a cache file, which can only be replayed in the order
    it was written: it is written in one seeded permutation, and each pass is mixed further by
    a buffer of data.shuffle_buffer examples.
    """
    if split is None:
        return None
    import tensorflow as tf

    parallel = {"num_parallel_calls": tf.data.AUTOTUNE,
                "deterministic": data_config.deterministic}
    if image_files and data_config.cache:  # a file path: "memory" means decoded while loading
        dataset = cached_images(split, data_config, seed, image_files, cache_name, training,
                                parallel)
    elif image_files:
        dataset = examples(split, seed, training).map(
            lambda path, label: (images.read_image_file(path, *image_files), label), **parallel)
        dataset = dataset.batch(data_config.batch_size)
    else:
        dataset = batches(split, data_config.batch_size, seed, training, parallel)
    if image_files or getattr(split.x, "dtype", None) == np.uint8:
        # Image bytes become the float32 pixels the spec promises, a batch at a time.
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y), **parallel)
    augmenter = augment.make_augmenter(data_config.augment, input_kind, seed) \
        if training and input_kind else None
    if augmenter:
        dataset = dataset.map(lambda x, y: (augmenter(x), y), **parallel)
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


def batches(split: Split, batch_size: int, seed: int, training: bool, parallel):
    """Arrays in memory, in batches; training gathers each batch by permuted indices (faster
    than slicing examples one by one)."""
    import tensorflow as tf

    if not training:
        return tf.data.Dataset.from_tensor_slices((split.x, split.y)).batch(batch_size)
    # Tensors made once, outside the map: captured by reference, not copied into its graph.
    arrays = tf.nest.map_structure(tf.convert_to_tensor, (split.x, split.y))

    def gather(indices):
        return tf.nest.map_structure(lambda array: tf.gather(array, indices), arrays)

    return epoch_order(len(split), seed).batch(batch_size).map(gather, **parallel)


def examples(split: Split, seed: int, training: bool):
    """One example at a time (image paths, decoded next); training in a permuted order."""
    import tensorflow as tf

    if not training:
        return tf.data.Dataset.from_tensor_slices((split.x, split.y))
    paths, labels = tf.constant(split.x), tf.constant(split.y)
    return epoch_order(len(split), seed).map(
        lambda index: (tf.gather(paths, index), tf.gather(labels, index)))


def cached_images(split: Split, data_config, seed: int, image_files, cache_name, training,
                  parallel):
    """Decoded images kept in files (one per split), written during the first pass."""
    import tensorflow as tf

    x, y = split.x, split.y
    if training:
        # The file replays the order it was written in: write it in a seeded permutation, a
        # fixed one, so that a run and its resumption read the same file the same way.
        order = random_generator(seed, CACHE_ORDER_STREAM).permutation(len(split))
        x, y = x[order], y[order]
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).map(
        lambda path, label: (images.read_image_file(path, *image_files), label), **parallel)
    prefix = Path(data_config.cache).expanduser()
    prefix.parent.mkdir(parents=True, exist_ok=True)
    dataset = dataset.cache(f"{prefix}.{cache_name or 'train'}")
    if training:
        buffer = min(data_config.shuffle_buffer, len(split))
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(data_config.batch_size)
