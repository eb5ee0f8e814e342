"""Datasets: one module per source, a plain dict registry, and `load` for a whole bundle.

Each source's `load(data_config, seed)` returns numpy `RawData`; `pipeline.make_bundle` turns it
into tf.data pipelines plus the input and target specs the model builder needs.
"""

from __future__ import annotations

from ..errors import lookup
from . import keras_source, pipeline, sklearn_source, synthetic, tfds_source
from .spec import DataBundle

SOURCES = {
    "synthetic": synthetic.load,
    "sklearn": sklearn_source.load,
    "keras": keras_source.load,
    "tfds": tfds_source.load,
}


def load(data_config, seed: int) -> DataBundle:
    """Load the configured dataset and build its train/validation/test pipelines."""
    source = lookup(SOURCES, "data source", data_config.source)
    return pipeline.make_bundle(source(data_config, seed), data_config, seed)
