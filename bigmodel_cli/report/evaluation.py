"""What `evaluate` and the end of training share: a split's labels and predictions, which
checkpoint was used, and the pictures of a split (plots/*.png in the run directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.spec import IMAGE
from ..runs import RunDir
from ..tasks.names import BINARY, MULTICLASS
from ..train.metrics_log import read_records
from . import runinfo

IMAGES_KEPT = 2000  # of a split's first images, for examples.png: the mistakes come first


def collect(model, dataset, keep_images: bool = False):
    """(labels, outputs, images or None) of every batch; labels come with their batches, as a
    pipeline that is not deterministic may reorder them."""
    truth, outputs, images, kept = [], [], [], 0
    for x, y in dataset:
        truth.append(np.asarray(y))
        outputs.append(np.asarray(model.predict_on_batch(x)))
        if keep_images and kept < IMAGES_KEPT and not isinstance(x, dict):
            batch = np.asarray(x)[: IMAGES_KEPT - kept]
            images.append(batch)
            kept += len(batch)
    return (np.concatenate(truth), np.concatenate(outputs),
            np.concatenate(images) if images else None)


def run_facts(run: RunDir, model_file: Path, config) -> dict:
    """The checkpoint used and whether the run finished: evaluate's header."""
    records = read_records(run.metrics_jsonl)
    what, why = runinfo.state(run)
    return {"checkpoint": runinfo.checkpoint_facts(run, model_file),
            "finished": run.finished, "state": what, "state_note": why,
            "epochs_done": records[-1]["epoch"] if records else 0,
            "epochs_planned": config.training.epochs}


def header(run_dir: Path, split: str, examples: int, facts: dict) -> str:
    """One line: the run, the split, the checkpoint and whether the run finished."""
    checkpoint = facts["checkpoint"]
    where = checkpoint["which"]
    if checkpoint.get("also_last"):
        where += " = last"
    if checkpoint.get("epoch") is not None:
        where += f", epoch {checkpoint['epoch']}"
    if checkpoint.get("step") is not None:
        where += f", step {checkpoint['step']:,}"
    if checkpoint.get("monitor"):
        where += f", {checkpoint['monitor']} {checkpoint['value']:.4f}"
    done = ("finished" if facts["finished"] else
            f"NOT finished ({facts['state']}, epoch {facts['epochs_done']} of "
            f"{facts['epochs_planned']})")
    return (f"{run_dir} · {split} ({examples:,} examples) · checkpoint {checkpoint['file']} "
            f"({where}) · run {done}")


def write_plots(run: RunDir, task, target, truth, outputs, images, split: str,
                details: dict) -> list[str]:
    """plots/confusion_matrix.png, roc.png and examples.png of a split (test: plain names;
    other splits: NAME-SPLIT.png), and curves.png; the paths written, relative to the run."""
    from . import plots

    def name(stem: str) -> Path:
        return run.plots / (f"{stem}.png" if split == "test" else f"{stem}-{split}.png")

    written = [plots.curves(read_records(run.metrics_jsonl), run.plots / "curves.png",
                            run.path.name)] if run.metrics_jsonl.exists() else []
    matrix = details.get("confusion_matrix")
    if matrix:
        written.append(plots.confusion_matrix(matrix, name("confusion_matrix"),
                                              f"{run.path.name} · {split}"))
    truth = np.asarray(truth)
    if task.name == BINARY and len(np.unique(truth)) == 2:
        written.append(plots.roc(truth, np.asarray(outputs).reshape(-1), name("roc"),
                                 f"{run.path.name} · {split}"))
    if images is not None and task.name in (MULTICLASS, BINARY) and len(images):
        predicted = task.predicted_classes(outputs)[: len(images)]
        written.append(plots.examples(images, truth[: len(images)].astype(int).reshape(-1),
                                      np.asarray(predicted).reshape(-1),
                                      matrix["classes"], name("examples")))
    return [str(path.relative_to(run.path)) for path in written]


def keeps_images(spec) -> bool:
    return spec.kind == IMAGE


def after_training(run: RunDir, task, bundle, console, warn, model=None) -> list[str]:
    """The pictures of a run that just finished training: its curves, and those of the test
    split (else validation) with the checkpoint evaluate uses. A missing matplotlib or an
    unwritable folder is a warning: the run itself is done."""
    import time

    from ..errors import BigModelError
    from ..train.checkpoints import load_checkpoint

    started = time.perf_counter()
    split = "test" if bundle.test is not None else "validation"
    dataset = bundle.split(split)
    try:
        if dataset is None:
            from . import plots

            return [str(plots.curves(read_records(run.metrics_jsonl), run.plots / "curves.png",
                                     run.path.name).relative_to(run.path))]
        if model is None:
            model = load_checkpoint(run.model_files(), unsafe=False, warn=warn)
        with bundle.reading():
            truth, outputs, images = collect(model, dataset, keeps_images(bundle.input_spec))
        details = task.details(bundle.target, truth, outputs)
        written = write_plots(run, task, bundle.target, truth, outputs, images, split, details)
        tensorboard_images(run, written)
    except (OSError, BigModelError) as error:
        warn(f"no pictures written: {error}")
        return []
    seconds = time.perf_counter() - started
    console.print(f"pictures: {run.plots}/ ({', '.join(Path(path).name for path in written)}; "
                  f"{seconds:.1f} s)", highlight=False, markup=False)
    return written


def tensorboard_images(run: RunDir, written: list[str]) -> None:
    """The confusion matrix and ROC pictures in TensorBoard too (its Images tab), at the last
    epoch, beside the validation curves; only for runs that log to TensorBoard."""
    if not (run.logs / "validation").is_dir():
        return
    import tensorflow as tf

    records = read_records(run.metrics_jsonl)
    writer = tf.summary.create_file_writer(str(run.logs / "validation"))
    with writer.as_default():
        for name in written:
            if Path(name).stem.startswith(("confusion_matrix", "roc")):
                image = tf.io.decode_png(tf.io.read_file(str(run.path / name)), channels=3)
                tf.summary.image(Path(name).stem, image[None], step=records[-1]["epoch"]
                                 if records else 0)
    writer.close()
