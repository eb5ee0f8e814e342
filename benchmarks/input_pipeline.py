"""Is the input pipeline ever the bottleneck? Pipeline examples/s beside training-step examples/s.

    .venv/bin/python benchmarks/input_pipeline.py [--images 3000] [--batches 100]

Writes CIFAR-shaped images (32x32x3, random pixels, 10 classes) as PNG files into a temporary
image folder, then measures, each on its own:
  * loading: the image_folder source decoding every PNG once (done before training starts);
  * the training pipeline as `bigmodel train` builds it (batch 32, a new permutation every
    epoch), with data.cache: memory (what auto, the default, picks when the pixels fit a
    quarter of RAM), data.cache: disk (a np.memmap file, what auto picks beyond) and
    data.cache: false (every PNG read and decoded again each epoch);
  * the training step of the classic CNN (filters [32, 64], dense 128, batch 32, compiled with
    the runner's speed settings), on one batch held in memory, so that no pipeline is timed.
The target: the pipeline at least 3 times faster than the training step.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bigmodel_cli.runtime.tfenv import import_tensorflow  # noqa: E402

TARGET_RATIO = 3.0
CLASSES = 10
SIZE = (32, 32, 3)
BATCH = 32


def write_folder(root: Path, count: int, tf) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        folder = root / f"class_{index % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, SIZE, dtype=np.uint8)
        (folder / f"{index:05d}.png").write_bytes(tf.io.encode_png(pixels).numpy())


def data_config(root: Path, cache):
    from bigmodel_cli.config.schema import DataConfig

    return DataConfig(source="image_folder", path=str(root), image_size=list(SIZE[:2]),
                      batch_size=BATCH, cache=cache, validation_split=0, test_split=0)


def pipeline_rate(dataset, passes: int = 2) -> float:
    """Examples/s over full passes, after one pass that warms up tf.data's threads."""
    for _ in dataset:
        pass
    examples, started = 0, time.perf_counter()
    for _ in range(passes):
        for _, labels in dataset:
            examples += len(labels)
    return examples / (time.perf_counter() - started)


def training_step_rate(bundle, root: Path, batches: int, tf) -> float:
    """The runner's model and speed settings (XLA and steps per execution chosen as `auto`)."""
    from bigmodel_cli import models, tasks
    from bigmodel_cli.config.schema import Config
    from bigmodel_cli.train import optimizer as optim
    from bigmodel_cli.train import performance

    config = Config.model_validate({
        "name": "benchmark", "data": data_config(root, "memory").model_dump(),
        "model": {"family": "cnn", "filters": [32, 64], "dense_units": [128]},
        "training": {"epochs": 1, "steps_per_epoch": batches}})
    model = models.build_model(bundle.input_spec, bundle.target, config.model)
    model.compile(optimizer=optim.build_optimizer(config.optimizer, batches),
                  **performance.compile_options(config, model, tf.distribute.get_strategy(),
                                                batches),
                  **tasks.get("multiclass").compile_arguments(bundle.target))
    images, labels = next(iter(bundle.train))
    one_batch = tf.data.Dataset.from_tensors((images, labels)).repeat()
    model.fit(one_batch, steps_per_epoch=batches, epochs=1, verbose=0)  # trace and warm up
    started = time.perf_counter()
    model.fit(one_batch, steps_per_epoch=batches, epochs=1, verbose=0)
    return batches * BATCH / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=128, help="training steps to time")
    arguments = parser.parse_args()
    tf = import_tensorflow()
    from bigmodel_cli import data

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / "cifar_like"
        write_folder(root, arguments.images, tf)
        started = time.perf_counter()
        in_memory = data.load(data_config(root, "memory"), seed=0)
        load_rate = arguments.images / (time.perf_counter() - started)
        memory_rate = pipeline_rate(in_memory.train)
        on_disk = data.load(data_config(root, "disk"), seed=0, run_dir=Path(temporary) / "run")
        disk_rate = pipeline_rate(on_disk.train)
        streaming_rate = pipeline_rate(data.load(data_config(root, False), seed=0).train)
        training_rate = training_step_rate(in_memory, root, arguments.batches, tf)

    print(f"{arguments.images} PNG images of {SIZE}, batch {BATCH}, {os.cpu_count()} CPU cores, "
          f"TensorFlow {tf.__version__}")
    print(f"loading (decode each PNG once):        {load_rate:10,.0f} images/s")
    print(f"pipeline, data.cache: memory (auto):   {memory_rate:10,.0f} examples/s")
    print(f"pipeline, data.cache: disk (memmap):   {disk_rate:10,.0f} examples/s")
    print(f"pipeline, data.cache: false (decode):   {streaming_rate:10,.0f} examples/s")
    print(f"training step, classic CNN:             {training_rate:10,.0f} examples/s")
    for name, rate in (("cache: memory", memory_rate), ("cache: disk", disk_rate),
                       ("cache: false", streaming_rate)):
        ratio = rate / training_rate
        verdict = "ok" if ratio >= TARGET_RATIO else f"below the {TARGET_RATIO:g}x target"
        print(f"ratio pipeline/training, {name}: {ratio:6.1f}x  ({verdict})")


if __name__ == "__main__":
    main()
