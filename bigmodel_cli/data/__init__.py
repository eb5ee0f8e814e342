"""Datasets: one module per source, a plain dict registry, and `load` for a whole bundle.

Each source's `load(data_config, seed)` returns numpy `RawData`; `pipeline.make_bundle` turns it
into tf.data pipelines plus the input and target specs the model builder needs.
"""

from __future__ import annotations

from ..errors import lookup
from . import (
    csv_source,
    image_folder,
    keras_source,
    npz_source,
    pipeline,
    sklearn_source,
    synthetic,
    text_folder,
    tfds_source,
)
from .spec import DataBundle

SOURCES = {
    "synthetic": synthetic.load,
    "sklearn": sklearn_source.load,
    "keras": keras_source.load,
    "tfds": tfds_source.load,
    "image_folder": image_folder.load,
    "text_folder": text_folder.load,
    "csv": csv_source.load,
    "npz": npz_source.load,
}


def load(data_config, seed: int) -> DataBundle:
    """Load the configured dataset and build its train/validation/test pipelines."""
    source = lookup(SOURCES, "data source", data_config.source)
    return pipeline.make_bundle(source(data_config, seed), data_config, seed)
