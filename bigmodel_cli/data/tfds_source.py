"""Any TensorFlow Datasets dataset with supervised (input, label) keys, loaded into memory.

The input kind comes from the builder's features: Image -> image, Text -> text, a numeric
Tensor -> vector; class names come from the label's ClassLabel. A split set to null in
data.splits is cut from train by the pipeline.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError, did_you_mean
from ..tasks.names import classification_task
from .messages import one_line
from .spec import IMAGE, REGRESSION, TEXT, VECTOR, RawData, Split

CATALOG = "https://www.tensorflow.org/datasets/catalog/overview"
LOADING_BATCH = 1024  # examples per step when copying a split into numpy


def load(data_config, seed: int) -> RawData:
    builder = make_builder(data_config.name, data_config.data_dir)
    input_kind, class_names, task = describe_features(data_config.name, builder.info)
    prepare(data_config.name, builder)
    splits = {}
    for role in ("train", "validation", "test"):
        split_name = getattr(data_config.splits, role)
        if split_name is not None:
            splits[role] = read_split(data_config.name, builder, split_name, input_kind, task)
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


def read_split(name: str, builder, split_name: str, input_kind: str, task: str) -> Split:
    """One split as numpy arrays (text decoded to Python strings)."""
    import tensorflow_datasets as tfds

    known_splits = list(builder.info.splits)
    # Split strings may slice ('train[:90%]') or join ('train+validation'); check each base.
    for part in split_name.replace(" ", "").split("+"):
        base = part.split("[")[0]
        if known_splits and base not in known_splits:
            raise ConfigError(
                f"tfds dataset '{name}' has no split '{base}'{did_you_mean(base, known_splits)} "
                f"known: {', '.join(known_splits)}; set the split in data.splits, "
                "or null to cut it from train")
    try:
        dataset = builder.as_dataset(split=split_name, as_supervised=True)
        batches = list(tfds.as_numpy(dataset.batch(LOADING_BATCH)))
    except Exception as error:
        raise DataError(
            f"could not read split '{split_name}' of tfds dataset '{name}': "
            f"{one_line(error)}") from error
    if not batches:
        raise DataError(f"split '{split_name}' of tfds dataset '{name}' is empty")
    x = np.concatenate([inputs for inputs, _ in batches])
    y = np.concatenate([labels for _, labels in batches])
    if input_kind == TEXT:
        x = np.asarray([text.decode("utf-8", errors="replace") for text in x], dtype=object)
    return Split(x=x, y=y.astype(np.float32 if task == REGRESSION else np.int32))
