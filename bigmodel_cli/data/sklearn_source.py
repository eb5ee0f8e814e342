"""Small real datasets bundled with scikit-learn: they need no network and no cache.

They come as one split; the pipeline cuts validation and test from it.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..errors import lookup
from ..tasks.names import classification_task
from .spec import IMAGE, MULTICLASS, REGRESSION, VECTOR, RawData, Split


def load(data_config, seed: int) -> RawData:
    loader = lookup(DATASETS, "scikit-learn dataset", data_config.name)
    return loader()


def digits() -> RawData:
    """1,797 real 8x8 handwritten digits, as images with pixels in [0, 255]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # scikit-learn's pixels count ink in 0..16; images elsewhere are 0..255.
    pixels = (bunch.images * (255 / 16)).astype(np.float32)[..., np.newaxis]
    return RawData(
        train=Split(x=pixels, y=bunch.target.astype(np.int32)), input_kind=IMAGE,
        task=MULTICLASS, class_names=[str(name) for name in bunch.target_names])


def table(loader_name: str) -> RawData:
    """A feature table with class labels; binary when it has two classes."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    class_names = [str(name) for name in bunch.target_names]
    return RawData(
        train=Split(x=bunch.data.astype(np.float32), y=bunch.target.astype(np.int32)),
        input_kind=VECTOR, task=classification_task(len(class_names)),
        class_names=class_names)


def diabetes() -> RawData:
    """442 patients, 10 features, a disease-progression score to predict."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    return RawData(
        train=Split(x=bunch.data.astype(np.float32), y=bunch.target.astype(np.float32)),
        input_kind=VECTOR, task=REGRESSION, class_names=[])


DATASETS = {
    "digits": digits,
    "iris": partial(table, "load_iris"),
    "wine": partial(table, "load_wine"),
    "breast_cancer": partial(table, "load_breast_cancer"),
    "diabetes": diabetes,
}
