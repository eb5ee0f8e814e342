"""Evaluate and predict from a run directory, and format predictions for people or programs."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from .. import config as config_module
from .. import tasks
from ..config.schema import Config
from ..data.spec import InputSpec, TargetSpec
from ..errors import BigModelError, UsageError
from ..runs import RunDir, read_json
from ..runtime.tfenv import import_tensorflow

SPLITS = ("train", "validation", "test")


def load_run(run_dir: Path) -> tuple[RunDir, Config, InputSpec, TargetSpec]:
    run = RunDir(Path(run_dir)).require()
    config = config_module.load_saved(run.config)
    spec = read_json(run.spec)
    if spec["input"].get("tokenizer"):  # a BPE definition is a file beside spec.json
        from ..data import tokenizers

        spec["input"]["tokenizer"] = tokenizers.load_beside(spec["input"]["tokenizer"], run.path)
    return run, config, InputSpec.from_dict(spec["input"]), TargetSpec.from_dict(spec["target"])


def load_model(run: RunDir, verbose: bool = False, unsafe: bool = False):
    return load_model_and_file(run, verbose, unsafe)[0]


def load_model_and_file(run: RunDir, verbose: bool = False, unsafe: bool = False):
    """The model and the checkpoint file it came from (best, or last if best is unreadable)."""
    import_tensorflow(verbose)
    from ..train.checkpoints import load_checkpoint

    candidates, refused = run.model_files(), []

    def note(message: str) -> None:  # one warning per unreadable candidate, in order
        refused.append(message)
        warn(message)

    model = load_checkpoint(candidates, unsafe, note)
    return model, candidates[len(refused)]


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def evaluate(run_dir: Path, split: str = "test", verbose: bool = False,
             unsafe: bool = False, plots: bool = True) -> dict:
    """The loss and metrics, then what the task reports (per-class scores, confusion matrix:
    under "report"), the checkpoint used and the run's state (under "run"); with `plots`,
    the split's pictures in RUN/plots/ (their paths under "plots")."""
    from ..report import evaluation

    if split not in SPLITS:
        raise UsageError(f"unknown split '{split}'; use one of: {', '.join(SPLITS)}")
    run, config, spec, target = load_run(run_dir)
    task = tasks.resolve(target, config.model.task)
    import_tensorflow(verbose)
    bundle = load_run_data(run, config)
    dataset = bundle.split(split)
    if dataset is None:
        raise UsageError(f"the run {run.path} has no {split} split; "
                         f"use one of: {', '.join(s for s in SPLITS if bundle.split(s))}")
    model, model_file = load_model_and_file(run, verbose, unsafe)
    if spec.tokenizer:  # a language model: logits at every position, summed batch by batch
        batches = ((y.numpy(), np.asarray(model.predict_on_batch(x))) for x, y in dataset)
        return {"split": split, "examples": bundle.sizes[split],
                **task.score_batches(target, batches),
                "run": evaluation.run_facts(run, model_file, config)}
    truth, outputs, images = evaluation.collect(model, dataset, evaluation.keeps_images(spec))
    metrics = task.score(target, truth, outputs)
    details = task.details(target, truth, outputs)
    result = {"split": split, "examples": bundle.sizes[split], **metrics,
              "run": evaluation.run_facts(run, model_file, config), "report": details}
    if plots:
        try:
            result["plots"] = evaluation.write_plots(run, task, target, truth, outputs, images,
                                                     split, details)
        except (OSError, BigModelError) as error:  # a run others may read, not change
            warn(f"no pictures written: {error}")
    return result


def load_run_data(run: RunDir, config: Config):
    """The run's data, read again with its config, refused unless it is the data the run was
    trained on (classes and their order, input shape, columns: what the saved model means)."""
    from .. import data
    from ..data.spec import require_same_data
    from ..data.splits import other_cut_note

    bundle = data.load(config.data, config.seed)
    where = config.data.path or config.data.name or config.data.source
    trained_spec = read_json(run.spec)
    require_same_data(trained_spec, bundle, where,
                      "restore the data it was trained on, or train a new run on this data "
                      "(bigmodel train CONFIG --run-dir NEW_DIR)")
    if note := other_cut_note(trained_spec, bundle.split_cut):
        warn(note)
    trained_sizes = read_json(run.results).get("examples") if run.finished else None
    if trained_sizes and trained_sizes != bundle.sizes:
        # Added or removed files move the cut of validation and test from a pool of examples.
        warn(f"the data now has {_sizes(bundle.sizes)} examples ({_sizes(trained_sizes)} when "
             "the run trained): splits cut from one pool may now hold examples it trained on")
    return bundle


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{split} {count:,}" for split, count in sizes.items())


def predict(run_dir: Path, arguments: list[str], top_k: int = 3,
            verbose: bool = False, unsafe: bool = False) -> list[dict]:
    run, config, spec, target = load_run(run_dir)
    task = tasks.resolve(target, config.model.task)
    import_tensorflow(verbose)  # images are decoded with TensorFlow: load it quietly first
    if spec.tokenizer:  # a language model: each input is a text, the row its next tokens
        from ..data.token_windows import last_positions

        labels, batch, last = last_positions(arguments, spec)
        outputs = np.asarray(load_model(run, verbose, unsafe).predict(batch, verbose=0))
        return [task.format_row(label, output[position], target, top_k)
                for label, output, position in zip(labels, outputs, last, strict=True)]
    from .inputs import read_inputs

    labels, batch = read_inputs(arguments, spec)
    model = load_model(run, verbose, unsafe)
    outputs = np.asarray(model.predict(batch, verbose=0))
    rows = zip(labels, outputs, strict=True)
    return [task.format_row(label, output, target, top_k) for label, output in rows]


def format_rows(rows: list[dict], output_format: str) -> str:
    """jsonl or csv text; the table format is drawn by the CLI with Rich."""
    if output_format == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if rows and "value" in rows[0]:
        writer.writerow(["input", "value"])
        writer.writerows([row["input"], row["value"]] for row in rows)
    else:
        multilabel = bool(rows) and "labels" in rows[0]  # then: is each ranked label predicted?
        writer.writerow(["input", "rank", "class", "probability"]
                        + (["predicted"] if multilabel else []))
        for row in rows:
            for rank, guess in enumerate(row["top"], start=1):
                predicted = [int(guess["class"] in row["labels"])] if multilabel else []
                writer.writerow([row["input"], rank, guess["class"],
                                 f"{guess['probability']:.6f}", *predicted])
    return buffer.getvalue()
