"""The classic `keras.datasets`: mnist, fashion_mnist, cifar10, cifar100, imdb, reuters.

imdb and reuters come as word ids; they are decoded back to words with the dataset's word index
(`get_word_index`), so the model learns its vocabulary with TextVectorization (data.vocab_size,
data.sequence_length) and the saved model takes raw text, like every other text source.

Keras downloads each into its cache (~/.keras/datasets, or $KERAS_HOME/datasets) and checks the
file's hash. Offline, the download fails with an `Exception('URL fetch failure on ...')`; we
turn that into one line that names the file to fetch and where to put it.
"""

from __future__ import annotations

import os
import urllib.error
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, lookup
from ..tasks.names import classification_task
from .messages import one_line
from .spec import IMAGE, TEXT, RawData, Split

KERAS_STORAGE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEFAULT_NUM_WORDS = 10_000
DEFAULT_SEQUENCE_LENGTH = 256
# load_data's defaults: 0 pads, 1 marks the start, 2 an unknown word, words start at id 3.
WORD_IDS_FROM = 3

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]
FASHION_MNIST_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                       "Sneaker", "Bag", "Ankle boot"]
# CIFAR-100 "fine" labels, in label order (alphabetical).
CIFAR100_NAMES = """
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile
cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp
lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree
orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum
rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider
squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train
trout tulip turtle wardrobe whale willow_tree wolf woman worm
""".split()


@dataclass(frozen=True)
class KerasDataset:
    module: str  # keras.datasets.<module>
    kind: str
    # Where get_file saves each download (relative to the cache directory) and its URL.
    files: tuple[tuple[str, str], ...]
    class_names: tuple[str, ...] = ()  # empty: read from keras (reuters)


DATASETS = {
    "mnist": KerasDataset(
        "mnist", IMAGE, (("mnist.npz", KERAS_STORAGE + "mnist.npz"),),
        tuple(str(digit) for digit in range(10))),
    "fashion_mnist": KerasDataset(
        "fashion_mnist", IMAGE,
        tuple((f"fashion-mnist/{name}", KERAS_STORAGE + name) for name in (
            "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")),
        tuple(FASHION_MNIST_NAMES)),
    # The cifar archives are extracted by get_file, which stores the download under this name.
    "cifar10": KerasDataset(
        "cifar10", IMAGE, (("cifar-10-batches-py-target_archive",
                            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),),
        tuple(CIFAR10_NAMES)),
    "cifar100": KerasDataset(
        "cifar100", IMAGE, (("cifar-100-python-target_archive",
                             "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),),
        tuple(CIFAR100_NAMES)),
    "imdb": KerasDataset(
        "imdb", TEXT, (("imdb.npz", KERAS_STORAGE + "imdb.npz"),
                       ("imdb_word_index.json", KERAS_STORAGE + "imdb_word_index.json")),
        ("negative", "positive")),
    "reuters": KerasDataset(
        "reuters", TEXT, (("reuters.npz", KERAS_STORAGE + "reuters.npz"),
                          ("reuters_word_index.json",
                           KERAS_STORAGE + "reuters_word_index.json"))),
}


def load(data_config, seed: int) -> RawData:
    dataset = lookup(DATASETS, "keras dataset", data_config.name)
    import keras

    loader = getattr(keras.datasets, dataset.module)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
        words = word_list(loader.get_word_index()) if dataset.kind == TEXT else None
    except Exception as error:
        if is_download_failure(error):
            raise DataError(offline_message(data_config.name, dataset, error)) from error
        raise DataError(
            f"could not load keras dataset '{data_config.name}': {one_line(error)}") from error
    class_names = list(dataset.class_names) or [str(name) for name in loader.get_label_names()]
    task = classification_task(len(class_names))
    if dataset.kind == TEXT:
        x_train, x_test = (decode_reviews(x, words) for x in (x_train, x_test))
        return RawData(
            train=Split(x_train, labels(y_train)), test=Split(x_test, labels(y_test)),
            input_kind=TEXT, task=task, class_names=class_names)
    x_train, x_test = (with_channel_axis(x) for x in (x_train, x_test))
    return RawData(
        train=Split(x_train, labels(y_train)), test=Split(x_test, labels(y_test)),
        input_kind=IMAGE, task=task, class_names=class_names)


def labels(y) -> np.ndarray:
    return np.asarray(y).reshape(-1).astype(np.int32)  # cifar labels come as (examples, 1)


def with_channel_axis(images) -> np.ndarray:
    images = np.asarray(images)
    return images[..., np.newaxis] if images.ndim == 3 else images


def word_list(word_index: dict[str, int]) -> np.ndarray:
    """An array whose entry at a word id is the word ('' for the ids of marks)."""
    words = np.full(max(word_index.values(), default=0) + WORD_IDS_FROM + 1, "", dtype=object)
    for word, index in word_index.items():
        words[index + WORD_IDS_FROM] = word
    return words


def decode_reviews(sequences, words: np.ndarray) -> np.ndarray:
    """Word ids -> text, leaving out the start and unknown-word marks."""
    texts = []
    for sequence in sequences:
        ids = np.asarray(sequence, dtype=np.int64)
        ids = ids[(ids >= WORD_IDS_FROM) & (ids < len(words))]
        texts.append(" ".join(words[ids]))
    return np.asarray(texts, dtype=object)


# --- offline errors -----------------------------------------------------------------------

def is_download_failure(error: BaseException) -> bool:
    """True for get_file's failures: no network, or a cached file with the wrong hash."""
    while error is not None:
        text = str(error)
        if isinstance(error, urllib.error.URLError) or "URL fetch failure" in text \
                or "file hash does not match" in text:
            return True
        error = error.__cause__ or error.__context__
    return False


def cache_directory() -> str:
    """Where keras.utils.get_file keeps datasets (it falls back to /tmp/.keras when the
    home directory is read-only)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    if not os.access(home if os.path.isdir(home) else os.path.dirname(home), os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return os.path.join(home, "datasets")


def offline_message(name: str, dataset: KerasDataset, error: BaseException) -> str:
    directory = cache_directory()
    copies = "; ".join(
        f"download {url} and save it as {os.path.join(directory, path)}"
        for path, url in dataset.files)
    return (f"keras dataset '{name}' is not in the cache and could not be downloaded "
            f"({one_line(error)}); to add it by hand, {copies}")

