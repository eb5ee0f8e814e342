"""Tiny runs trained once per test session, in this process, for export and serve tests."""

from __future__ import annotations

import io
from pathlib import Path

from cli_runner import CONFIGS
from rich.console import Console

from bigmodel_cli import config as config_module

CSV_ROWS = 120
_trained: dict[str, Path] = {}


def write_people_csv(path: Path) -> Path:
    """A table with a number, a category and a text column; the label follows the text."""
    cities = ["paris", "oslo", "rome"]
    lines = ["age,city,note,label"] + [
        f"{20 + index % 37},{cities[index % 3]},likes {'tea' if index % 2 else 'coffee'} a lot,"
        f"{'yes' if index % 2 else 'no'}" for index in range(CSV_ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def trained_run(tmp_path_factory, name: str) -> Path:
    """A trained run: mlp (iris vectors), cnn (images), rnn (tokens), transformer (text),
    table (CSV columns), gpt (a character language model), gelu (an MLP with exact GELU).
    One epoch each."""
    if name in _trained:
        return _trained[name]
    from bigmodel_cli.train import runner

    root = tmp_path_factory.mktemp(f"run-{name}")
    overrides = ["training.epochs=1", "training.tensorboard=false"]
    if name == "table":
        csv = write_people_csv(root / "people.csv")
        config_path = root / "table.yaml"
        config_path.write_text(
            f"name: table\ndata:\n  source: csv\n  path: {csv}\n  label_column: label\n"
            "  columns: {age: numeric, city: categorical, note: text}\n  batch_size: 16\n"
            "model:\n  family: mlp\n  hidden_units: [8]\n", encoding="utf-8")
    elif name == "gpt":
        corpus = root / "corpus.txt"
        corpus.write_text("the cat sat on the mat. the dog ran to the log.\n" * 40,
                          encoding="utf-8")
        config_path = root / "gpt.yaml"
        config_path.write_text(
            f"name: gpt\ndata: {{source: text_corpus, path: {corpus}, context_length: 16, "
            f"batch_size: 8, eval_batches: 2, cache_dir: {root / 'tokens'}}}\n"
            "model: {family: gpt, size: tiny}\ntraining: {steps_per_epoch: 10}\n",
            encoding="utf-8")
    elif name == "gelu":
        config_path = CONFIGS / "smoke" / "mlp.yaml"
        overrides.append("model.activation=gelu")
    else:
        config_path = CONFIGS / "smoke" / f"{name}.yaml"
    config = config_module.load(config_path, overrides)
    run_dir = root / "run"
    runner.train(config, run_dir, Console(file=io.StringIO()))
    _trained[name] = run_dir
    return run_dir
