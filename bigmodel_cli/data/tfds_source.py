"""Any TensorFlow Datasets dataset with supervised (input, label) keys, read as a stream.

The input kind comes from the builder's features: Image -> image, Text -> text, a numeric
Tensor -> vector; class names come from the label's ClassLabel. Splits are read through
`builder.as_dataset`, never copied whole by the source (data.cache decides what is kept). A
split set to null in data.splits is cut from the front of train with tfds' split slicing
(`train[:500]`): tfds stores examples shuffled, but this cut is not stratified by class.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..errors import ConfigError, DataError, did_you_mean
from ..tasks.names import classification_task
from .messages import one_line
from .spec import IMAGE, REGRESSION, TEXT, VECTOR, RawData, StreamedSplit
from .splits import cut_count

CATALOG = "https://www.tensorflow.org/datasets/catalog/overview"


def load(data_config, seed: int) -> RawData:
    builder = make_builder(data_config.name, data_config.data_dir)
    input_kind, class_names, task = describe_features(data_config.name, builder.info)
    prepare(data_config.name, builder)
    splits = {role: stream(data_config, builder, split_name, window, input_kind, task)
              for role, (split_name, window) in split_names(data_config, builder).items()}
    return RawData(
        train=splits["train"], validation=splits.get("validation"), test=splits.get("test"),
        input_kind=input_kind, task=task, class_names=class_names)


def make_builder(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        base_name = name.split("/")[0].split(":")[0]
        hint = did_you_mean(base_name, tfds.list_builders())
        raise ConfigError(f"unknown tfds dataset '{name}'{hint} (all datasets: {CATALOG})") \
            from None
    except Exception as error:  # a wrong config or version in the name
        configs = config_names(tfds, name)
        known = f" (known configs: {', '.join(configs)})" if configs else ""
        raise ConfigError(f"tfds cannot make dataset '{name}': {one_line(error)}{known}") \
            from error


def config_names(tfds, name: str) -> list[str]:
    """The builder's config names, for datasets named 'dataset/config'."""
    try:
        builder_class = tfds.builder_cls(name.split("/")[0].split(":")[0])
    except Exception:  # the listing is only a hint: an unknown dataset just has none
        return []
    return [config.name for config in getattr(builder_class, "BUILDER_CONFIGS", [])]


def describe_features(name: str, info) -> tuple[str, list[str], str]:
    """(input kind, class names, task) from the builder's supervised features."""
    import tensorflow_datasets as tfds

    keys = info.supervised_keys
    if not keys or len(keys) != 2 or not all(isinstance(key, str) for key in keys):
        raise DataError(f"tfds dataset '{name}' has no (input, label) supervised keys; "
                        "bigmodel needs one input feature and one label")
    input_feature, label_feature = info.features[keys[0]], info.features[keys[1]]
    if isinstance(input_feature, tfds.features.Image):
        if None in input_feature.shape:
            raise DataError(f"tfds dataset '{name}' has images of varying size "
                            f"{input_feature.shape}; bigmodel needs one image size")
        input_kind = IMAGE
    elif isinstance(input_feature, tfds.features.Text):
        input_kind = TEXT
    elif isinstance(input_feature, tfds.features.Tensor) and is_numeric(input_feature) \
            and None not in input_feature.shape:
        input_kind = VECTOR
    else:
        raise DataError(f"tfds dataset '{name}': input feature '{keys[0]}' "
                        f"({type(input_feature).__name__}) is not an image, text or number tensor")
    if isinstance(label_feature, tfds.features.ClassLabel):
        class_names = [str(label) for label in label_feature.names]
        return input_kind, class_names, classification_task(len(class_names))
    if isinstance(label_feature, tfds.features.Tensor) and label_feature.shape == () \
            and np.issubdtype(label_feature.np_dtype, np.floating):
        return input_kind, [], REGRESSION
    raise DataError(f"tfds dataset '{name}': label '{keys[1]}' is neither a ClassLabel "
                    "nor a float number")


def is_numeric(feature) -> bool:
    return np.issubdtype(feature.np_dtype, np.number) or feature.np_dtype == np.bool_


def prepare(name: str, builder) -> None:
    """Download and prepare the dataset unless it is already in the data directory."""
    try:
        builder.download_and_prepare()
    except Exception as error:
        data_dir = str(builder.data_dir_root)
        raise DataError(
            f"tfds dataset '{name}' is not prepared in {data_dir} and could not be downloaded "
            f"({one_line(error)}); on a machine with network run "
            f"`tfds build {name} --data_dir DIR`, then copy DIR/{name.split('/')[0]} "
            f"into {data_dir}") from error


def split_names(data_config, builder) -> dict[str, tuple[str, slice | None]]:
    """{role: (tfds split string, window)}; validation and test set to null are cut off the
    front of train (test first), as many examples as data.test_split and
    data.validation_split ask: by tfds' slicing ('train[:500]'), or, when train is already
    sliced or joined, by taking a window of its stream."""
    name, splits = data_config.name, data_config.splits
    names = {role: (getattr(splits, role), None) for role in ("train", "validation", "test")
             if getattr(splits, role) is not None}
    for split_name, _ in names.values():
        check_split(name, builder, split_name)
    train = names["train"][0]
    total = count_of(builder, train)
    test = cut_count(total, data_config.test_split) if splits.test is None else 0
    validation = cut_count(total, data_config.validation_split) \
        if splits.validation is None else 0
    if not test and not validation:
        return names
    if test + validation >= total:
        raise DataError(
            f"split '{train}' of tfds dataset '{name}' has only {total} examples: too few to "
            f"hold out validation_split={data_config.validation_split} and "
            f"test_split={data_config.test_split}; lower them or name the splits in data.splits")
    windows = {"test": slice(0, test), "validation": slice(test, test + validation),
               "train": slice(test + validation, total)}
    for role, window in windows.items():
        if window.stop > window.start and (role == "train" or role not in names):
            plain = "[" not in train and "+" not in train
            names[role] = (f"{train}[{window.start}:{window.stop}]", None) if plain \
                else (train, window)
    return names


def check_split(name: str, builder, split_name: str) -> None:
    known_splits = list(builder.info.splits)
    # Split strings may slice ('train[:90%]') or join ('train+validation'); check each base.
    for part in split_name.replace(" ", "").split("+"):
        base = part.split("[")[0]
        if known_splits and base not in known_splits:
            raise ConfigError(
                f"tfds dataset '{name}' has no split '{base}'{did_you_mean(base, known_splits)} "
                f"known: {', '.join(known_splits)}; set the split in data.splits, "
                "or null to cut it from train")


def stream(data_config, builder, split_name: str, window: slice | None, input_kind: str,
           task: str) -> StreamedSplit:
    """One split (or a window of it) as a stream of (input, label) examples, read in the
    order tfds stores them."""
    import tensorflow as tf

    name = data_config.name
    feature = builder.info.features[builder.info.supervised_keys[0]]
    shape = () if input_kind == TEXT else tuple(feature.shape)
    if input_kind == VECTOR:
        shape = (int(np.prod(shape)),)  # numbers are flattened into one feature vector
    label_dtype = "float32" if task == REGRESSION else "int32"

    def example(x, y):
        if input_kind == VECTOR:
            x = tf.cast(tf.reshape(x, shape), tf.float32)
        return x, tf.cast(y, label_dtype)

    def read():
        try:
            dataset = builder.as_dataset(split=split_name, as_supervised=True)
        except Exception as error:
            raise DataError(f"could not read split '{split_name}' of tfds dataset '{name}': "
                            f"{one_line(error)}") from error
        if window is not None:
            dataset = dataset.skip(window.start).take(window.stop - window.start)
        return dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)

    count = window.stop - window.start if window else count_of(builder, split_name, read)
    if not count:
        raise DataError(f"split '{split_name}' of tfds dataset '{name}' is empty")
    dtype = {IMAGE: "uint8", VECTOR: "float32", TEXT: "object"}[input_kind]
    return StreamedSplit(read=read, count=count, shape=shape, dtype=dtype,
                         label_dtype=label_dtype,
                         key=f"tfds {name} {builder.info.version} {builder.data_dir} "
                             f"{split_name} {window}")


def count_of(builder, split_name: str, read=None) -> int:
    """Examples in a split: from the dataset's info, else from its stream (mock data)."""
    with contextlib.suppress(Exception):
        count = builder.info.splits[split_name].num_examples
        if count:
            return int(count)
    dataset = read() if read else builder.as_dataset(split=split_name, as_supervised=True)
    count = int(dataset.cardinality())
    return count if count >= 0 else sum(1 for _ in dataset)
