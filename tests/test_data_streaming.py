"""Data that streams: folders listed up front and decoded by the pipeline, caches in memory or
on disk chosen by a budget (data.cache), images at their own size (data.image_size: auto),
bad files met mid-stream, tfds read as a stream, and exact resume on an image folder."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from cli_runner import bigmodel
from rich.console import Console
from test_data_folders import image_folder, reviews, write_png
from test_resume import backup_steps, final_weights, start_training, wait_for

from bigmodel_cli import data
from bigmodel_cli.config.schema import Config, DataConfig
from bigmodel_cli.data import examples, stores
from bigmodel_cli.errors import DataError
from bigmodel_cli.train import runner


def image_config(root, **settings):
    return DataConfig(**{"source": "image_folder", "path": str(root), "batch_size": 4,
                         "validation_split": 0.2, "test_split": 0, **settings})


def load(config, run_dir=None, **settings):
    log = io.StringIO()
    bundle = data.load(config, 0, run_dir=run_dir, console=Console(file=log, width=300),
                       **settings)
    return bundle, log.getvalue()


def batches(dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def assert_same_batches(first, second) -> None:
    assert len(first) == len(second)
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def corrupt(path) -> None:
    png = tf.io.encode_png(np.zeros((9, 9, 3), np.uint8)).numpy()
    path.write_bytes(png[: len(png) // 2])


# --- bad files met in the middle of a split ---------------------------------------------------

def test_cache_false_skips_a_bad_file_mid_split_in_its_batch_only(tmp_path):
    root = image_folder(tmp_path / "photos", count=10, size=(8, 8))
    corrupt(root / "dog" / "5.png")  # in the middle of the listing, and of the dog class
    bundle, log = load(image_config(root, cache=False, on_bad_file="skip",
                                    validation_split=0, test_split=0))
    assert isinstance(bundle.examples("train"), examples.FromFiles)
    assert bundle.sizes["train"] == 20 and bundle.skipped == 0  # not read yet: nothing known
    assert "train not cached (data.cache: false)" in log
    epoch = batches(bundle.train)
    # 20 examples in 5 batches of 4: the batch that held the bad file has 3, no other changed.
    assert sorted(len(y) for _, y in epoch) == [3, 4, 4, 4, 4]
    assert bundle.skipped == 1 and bundle.skipped_files == ["dog/5.png"]
    assert "skipped 1 unreadable file(s)" in bundle.skipped_note
    second = batches(bundle.train)  # met again, still counted once
    assert sum(len(y) for _, y in second) == 19 and bundle.skipped == 1


def test_cache_false_stops_at_a_bad_file_mid_split_with_its_name(tmp_path):
    root = image_folder(tmp_path / "photos", count=10, size=(8, 8))
    corrupt(root / "dog" / "5.png")
    bundle, _ = load(image_config(root, cache=False, validation_split=0, test_split=0))
    with pytest.raises(DataError, match=r"photos/dog/5\.png: cannot read the image \(.+\); "
                                        r"replace or remove it.*on_bad_file: skip"):
        with bundle.reading():
            batches(bundle.train)


def test_a_bad_file_found_while_filling_a_cache_is_left_out_before_the_first_step(tmp_path):
    root = image_folder(tmp_path / "photos", count=10, size=(8, 8))
    corrupt(root / "dog" / "5.png")
    for cache in ("auto", "disk"):
        bundle, log = load(image_config(root, cache=cache, on_bad_file="skip",
                                        validation_split=0, test_split=0), tmp_path / cache)
        assert bundle.sizes["train"] == 19 and bundle.skipped_files == ["dog/5.png"]
        assert sum(len(y) for _, y in batches(bundle.train)) == 19
    with pytest.raises(DataError, match=r"photos/dog/5\.png: cannot read the image"):
        load(image_config(root, validation_split=0, test_split=0))


def test_results_json_names_a_file_skipped_mid_stream(tmp_path):
    root = image_folder(tmp_path / "photos", count=6, size=(8, 8))
    corrupt(root / "cat" / "3.png")
    config = Config.model_validate({
        "name": "stream", "seed": 0, "model": {"family": "mlp", "hidden_units": [4]},
        "training": {"epochs": 1, "tensorboard": False},
        "data": {"source": "image_folder", "path": str(root), "cache": False,
                 "on_bad_file": "skip", "batch_size": 4, "test_split": 0}})
    log = io.StringIO()
    results = runner.train(config, tmp_path / "run", Console(file=log, width=300))
    assert results["skipped"] == 1 and results["skipped_files"] == ["cat/3.png"]
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["skipped_files"] == ["cat/3.png"]
    assert "skipped 1 unreadable file(s) or row(s) (data.on_bad_file: skip): cat/3.png" in \
        log.getvalue()


# --- data.image_size: auto ----------------------------------------------------------------------

def test_image_size_auto_is_the_size_all_images_share(tmp_path):
    root = image_folder(tmp_path / "photos", count=5, size=(6, 10))
    bundle, log = load(image_config(root))
    assert bundle.input_spec.shape == (6, 10, 3)
    assert "image size: 6x10, the size of all 10 images (data.image_size: auto)" in log
    assert "data cache: train 8 examples" in log and "\n\n" not in log  # no progress bar left
    x, _ = next(iter(bundle.train))
    assert x.shape[1:] == (6, 10, 3)
    explicit, log = load(image_config(root, image_size=[4, 4]))  # an explicit size still wins
    assert explicit.input_spec.shape == (4, 4, 3) and "image size: 4x4 (data.image_size)" in log


def test_image_size_auto_takes_the_most_common_size_and_says_how_many_are_resized(tmp_path):
    root = image_folder(tmp_path / "photos", count=4, size=(8, 8))
    write_png(root / "cat" / "big.png", np.zeros((12, 16, 3)))
    with open(root / "dog" / "photo.jpg", "wb") as file:  # a JPEG: its size from the header
        file.write(tf.io.encode_jpeg(np.zeros((12, 16, 3), np.uint8)).numpy())
    bundle, log = load(image_config(root))
    assert bundle.input_spec.shape == (8, 8, 3)
    assert "image size: 8x8, the most common of 2 sizes: 2 of all 10 images (20%) are another " \
           "size and are resized to it" in log
    assert {x.shape[1:] for x, _ in bundle.train} == {(8, 8, 3)}


def test_the_dry_run_reads_the_size_without_filling_a_cache(tmp_path):
    root = image_folder(tmp_path / "photos", count=3, size=(6, 10))
    bundle, _ = load(image_config(root), fill=False)
    assert bundle.input_spec.shape == (6, 10, 3)
    assert isinstance(bundle._examples["train"], examples.Pending)  # nothing decoded


# --- data.cache ---------------------------------------------------------------------------------

@pytest.fixture
def photos(tmp_path):
    return image_folder(tmp_path / "photos", count=15, size=(8, 8))


def test_every_cache_mode_gives_the_same_batches(photos, tmp_path, monkeypatch):
    loaded = {cache: load(image_config(photos, cache=cache), tmp_path / str(cache))
              for cache in ("auto", "memory", "disk", False)}
    kinds = {cache: type(bundle.examples("train")) for cache, (bundle, _) in loaded.items()}
    assert kinds == {"auto": examples.InMemory, "memory": examples.InMemory,
                     "disk": examples.Stored, False: examples.FromFiles}
    assert isinstance(loaded["disk"][0].examples("train").array, np.memmap)
    assert list((tmp_path / "disk" / "cache").glob("train-*.u8"))
    assert "train 24 examples (4.6 KB) in memory (data.cache: auto, 4.6 KB fits the budget" \
        in loaded["auto"][1]
    # auto over its budget: on disk under the run directory.
    monkeypatch.setattr(stores, "memory_budget", lambda: 1000)
    over, log = load(image_config(photos), tmp_path / "over")
    assert isinstance(over.examples("train").array, np.memmap)
    assert "on disk in" in log and "4.6 KB is over the budget 1.0 KB" in log
    loaded["over"] = (over, log)
    # Arrays in memory, as the sources that load arrays give them: the reference.
    reference, _ = load(image_config(photos, cache="memory"))  # a bundle not read yet
    expected = [batches(reference.train) for _ in range(2)]  # two epochs, two permutations
    expected_stream = batches(reference.train_stream(7).take(9))
    for bundle, _ in loaded.values():
        for epoch in expected:
            assert_same_batches(batches(bundle.train), epoch)
        assert_same_batches(batches(bundle.train_stream(7).take(9)), expected_stream)
        assert_same_batches(batches(bundle.validation), batches(reference.validation))


def test_cache_false_holds_no_decoded_split(photos, tmp_path):
    bundle, _ = load(image_config(photos, cache=False), tmp_path)
    for name in ("train", "validation"):
        split = bundle.examples(name)
        assert isinstance(split, examples.FromFiles)  # paths and labels, no pixels
        arrays = [value for value in vars(split).values() if isinstance(value, np.ndarray)]
        assert {array.dtype.kind for array in arrays} <= {"O", "i"}  # paths and labels only
    batches(bundle.train)
    assert not (tmp_path / "cache").exists()


def test_a_disk_cache_is_reused_unless_the_folder_changed(photos, tmp_path):
    config = image_config(photos, cache="disk", validation_split=0)
    load(config, tmp_path)
    first = sorted((tmp_path / "cache").glob("train-*.u8"))
    stamp = first[0].stat().st_mtime_ns
    load(config, tmp_path)
    assert sorted((tmp_path / "cache").glob("train-*.u8")) == first
    assert first[0].stat().st_mtime_ns == stamp  # used as it was, not written again
    write_png(photos / "cat" / "0.png", np.full((8, 8, 3), 255))
    changed, _ = load(config, tmp_path)
    now = sorted((tmp_path / "cache").glob("train-*.u8"))
    assert len(now) == 1 and now != first  # a new key; the stale file is gone
    pixels = np.concatenate([x for x, _ in batches(changed.train)])
    assert (pixels == 255).all(axis=(1, 2, 3)).sum() == 1


def test_text_folder_vocabulary_from_a_stream_equals_the_cached_one(tmp_path):
    root = reviews(tmp_path / "reviews")
    cached, _ = load(DataConfig(source="text_folder", path=str(root), cache="memory"))
    streamed, log = load(DataConfig(source="text_folder", path=str(root), cache=False))
    assert isinstance(cached.examples("train"), examples.InMemory)
    assert isinstance(streamed.examples("train"), examples.FromFiles)
    assert streamed.input_spec.vocabulary == cached.input_spec.vocabulary
    assert_same_batches(batches(streamed.train), batches(cached.train))


# --- tfds read as a stream -----------------------------------------------------------------------

class TinyDigits(tfds.core.GeneratorBasedBuilder):
    """A dataset prepared for real, offline: 30 train and 9 test images of 4x4 pixels."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self, supervised_keys=("image", "label"),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(4, 4, 1)),
                "label": tfds.features.ClassLabel(num_classes=3)}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(30), "test": self._generate_examples(9)}

    def _generate_examples(self, count):
        for index in range(count):
            yield index, {"image": np.full((4, 4, 1), index, np.uint8), "label": index % 3}


def test_tfds_cuts_validation_by_slicing_and_streams_without_a_cache(tmp_path):
    config = dict(source="tfds", name="tiny_digits", data_dir=str(tmp_path), batch_size=5)
    cached, log = load(DataConfig(**config))
    assert cached.sizes == {"train": 27, "validation": 3, "test": 9}
    assert isinstance(cached.examples("train"), examples.InMemory)
    stored = tfds.builder("tiny_digits", data_dir=str(tmp_path)).as_dataset(
        split="train", as_supervised=True)
    front = [int(x[0, 0, 0]) for x, _ in stored.take(3)]  # train's front, in tfds' order
    values = np.concatenate([x.numpy()[:, 0, 0, 0] for x, _ in cached.validation])
    assert values.tolist() == front
    streamed, log = load(DataConfig(**config, cache=False))
    assert isinstance(streamed.examples("train"), examples.InOrder)
    assert "read in order every epoch, mixed by a buffer" in log
    seen = np.concatenate([x.numpy()[:, 0, 0, 0] for x, _ in streamed.train])
    assert sorted(seen.tolist()) == sorted(
        np.concatenate([x.numpy()[:, 0, 0, 0] for x, _ in cached.train]).tolist())
    assert streamed.input_spec == cached.input_spec


# --- exact resume on an image folder ------------------------------------------------------------

RESUME_CONFIG = """\
name: resume_images
seed: 3
data: {{source: image_folder, path: {path}, cache: {cache}, batch_size: 8,
       validation_split: 0.1, test_split: 0}}
model: {{family: cnn, filters: [4], dense_units: [8], dropout: 0.2}}
optimizer: {{name: adam}}
training: {{epochs: 2, deterministic: true, tensorboard: false}}
checkpoint: {{backup_every_steps: 3, keep_last: 1}}
"""


@pytest.mark.parametrize("cache", ["auto", "disk"])
def test_kill_9_mid_epoch_resumes_an_image_folder_run_to_identical_weights(tmp_path, cache):
    photos = image_folder(tmp_path / "photos", classes=("a", "b", "c"), count=40, size=(8, 8))
    config = tmp_path / "config.yaml"
    config.write_text(RESUME_CONFIG.format(path=photos, cache=cache))
    uninterrupted = bigmodel("train", config, "--run-dir", tmp_path / "whole")
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    run_dir = tmp_path / "run"
    process = start_training(config, run_dir)  # 14 steps an epoch; killed in the first
    wait_for(lambda: any(step >= 6 for step in backup_steps(run_dir)), process)
    process.kill()
    process.wait()
    if cache == "disk":
        assert list((run_dir / "cache").glob("train-*.u8"))
    result = bigmodel("train", config, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    assert "resuming from step" in result.stdout
    kept = "in memory (data.cache: auto" if cache == "auto" else "on disk in"
    assert f"data cache: train 108 examples (20.7 KB) {kept}" in result.stdout
    for expected, actual in zip(final_weights(tmp_path / "whole"), final_weights(run_dir),
                                strict=True):
        np.testing.assert_array_equal(actual, expected)
    assert not (run_dir / "cache").exists()  # a finished run keeps no cache


def test_a_file_refused_mid_stream_stops_with_its_name_and_the_backup_intact(tmp_path):
    photos = image_folder(tmp_path / "photos", classes=("a", "b", "c"), count=40, size=(8, 8))
    config = tmp_path / "config.yaml"
    config.write_text(RESUME_CONFIG.format(path=photos, cache="false"))
    run_dir = tmp_path / "run"
    process = start_training(config, run_dir)
    wait_for(lambda: any(step >= 3 for step in backup_steps(run_dir)), process)
    process.kill()
    process.wait()
    backups = sorted(path.name for path in (run_dir / "backup").iterdir())
    corrupt(photos / "b" / "7.png")  # met within the next epoch, wherever it falls
    result = bigmodel("train", config, "--run-dir", run_dir)
    assert result.returncode == 1
    assert "resuming from step" in result.stdout  # met mid-stream, not while loading
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {photos / 'b' / '7.png'}: cannot "
                                                   "read the image"), result.stderr
    kept = sorted(path.name for path in (run_dir / "backup").iterdir())
    assert kept and set(backups) & set(kept)  # a backup to resume from is still there
