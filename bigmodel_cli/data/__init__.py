"""Datasets: one module per source, a plain dict registry, and `load` for a whole bundle.

Each source's `load(data_config, seed)` returns `RawData` (arrays, a list of files, or streams);
`pipeline.make_bundle` turns it into tf.data pipelines plus the input and target specs the model
builder needs.
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
    text_corpus,
    text_folder,
    tfds_source,
)
from .bundle import DataBundle

SOURCES = {
    "synthetic": synthetic.load,
    "sklearn": sklearn_source.load,
    "keras": keras_source.load,
    "tfds": tfds_source.load,
    "image_folder": image_folder.load,
    "text_folder": text_folder.load,
    "csv": csv_source.load,
    "npz": npz_source.load,
    "text_corpus": text_corpus.load,  # returns its DataBundle itself (token windows)
}
BUNDLE_SOURCES = ("text_corpus",)


def load(data_config, seed: int, *, run_dir=None, console=None, fill: bool = True) -> DataBundle:
    """Load the configured dataset and build its train/validation/test pipelines.

    `run_dir`: where caches on disk go (none without it); `console`: the training log, told
    where each split is kept; `fill`: fill the caches now (a bad file is met here), not when
    each split is first used (the dry run needs only the specs)."""
    source = lookup(SOURCES, "data source", data_config.source)
    if data_config.source in BUNDLE_SOURCES:
        return source(data_config, seed, run_dir=run_dir, console=console)
    bundle = pipeline.make_bundle(source(data_config, seed), data_config, seed,
                                  run_dir=run_dir, console=console)
    return bundle.fill() if fill else bundle
