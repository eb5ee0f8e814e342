"""Mistakes a user makes on the command line: one red line, the right exit code, no traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest
from cli_runner import CONFIGS, REPO, bigmodel

from bigmodel_cli.names import MODEL_FAMILIES


def test_help_is_fast_and_lists_commands():
    started = time.perf_counter()
    result = bigmodel("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "predict", "config"):
        assert command in result.stdout
    assert time.perf_counter() - started < 10  # generous: only catches a TensorFlow import
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, bigmodel_cli.cli; print('tensorflow' in sys.modules)"],
        capture_output=True, text=True, cwd=REPO, check=True)
    assert imported.stdout.strip() == "False"


def test_version():
    result = bigmodel("--version")
    assert result.returncode == 0 and result.stdout.startswith("bigmodel 0.")


def test_missing_config_file(tmp_path):
    result = bigmodel("train", tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert result.stderr == f"error: config file not found: {tmp_path / 'nope.yaml'}\n"


def test_user_text_in_errors_is_not_read_as_markup_or_emoji(tmp_path):
    path = tmp_path / "my:fire:[bold]config.yaml"
    result = bigmodel("train", path)
    assert result.returncode == 2
    assert result.stderr == f"error: config file not found: {path}\n"


def test_config_validate_names_files_as_they_are(tmp_path):
    path = tmp_path / "my:fire:[red]config.yaml"
    shutil.copy(CONFIGS / "smoke" / "mlp.yaml", path)
    result = bigmodel("config", "validate", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"OK {path}\n"


def test_no_rich_markup_in_what_bigmodel_prints():
    """The consoles read no markup (user text stays as it is), so a "[yellow]" written into a
    message would be printed as such: colour is given with style= instead."""
    tag = re.compile(r"\[/\]|\[/?(?:bold|red|green|yellow|dim|blue|cyan|magenta|italic)\b[^]]*\]")
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in sorted((REPO / "bigmodel_cli").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             # a progress bar's columns render their own markup, never user text
             if tag.search(line) and "TextColumn(" not in line]
    assert found == []


def test_invalid_yaml_exits_2_with_location(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodel:\n  family: mlp\n\tdata: 1\n")
    result = bigmodel("train", path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}:4:1: invalid YAML")
    assert "Traceback" not in result.stderr


def test_unknown_family_suggests_and_lists(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: sklearn, name: iris}\nmodel: {family: mpl}\n")
    result = bigmodel("config", "show", path)
    assert result.returncode == 2
    assert "model.family: unknown model family 'mpl'; did you mean 'mlp'? " \
           f"known: {', '.join(sorted(MODEL_FAMILIES))}" in result.stderr


def test_unknown_dataset_is_a_config_error_with_suggestion(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: sklearn, name: irsi}\nmodel: {family: mlp}\n"
                    "training: {epochs: 1}\n")
    result = bigmodel("train", path, "--run-dir", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert "'irsi'; did you mean 'iris'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = bigmodel("train", tmp_path / "nope.yaml", "--debug")
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "config file not found" in result.stderr


def test_evaluate_on_a_folder_that_is_not_a_run(tmp_path):
    result = bigmodel("evaluate", tmp_path)
    assert result.returncode == 2
    assert "is not a bigmodel run directory" in result.stderr


def test_bad_set_override(tmp_path):
    result = bigmodel("config", "show", REPO / "configs" / "quickstart.yaml",
                      "--set", "model.filtres=[8]")
    assert result.returncode == 2
    assert "--set model.filtres=[8]: model.filtres: unknown key 'filtres'; did you mean " \
           "'filters'?" in result.stderr


class FastExit(Exception):
    pass


def test_entry_skips_teardown_only_after_success_with_tensorflow_loaded(monkeypatch, tmp_path):
    import tensorflow  # noqa: F401  the commands that train load it; so does this test

    from bigmodel_cli import cli

    exits, handlers = [], []

    def fake_exit(code):
        exits.append(code)
        raise FastExit

    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: handlers.append(True))
    monkeypatch.setattr(sys, "argv", ["bigmodel", "--version"])
    with pytest.raises(FastExit):
        cli.entry()
    assert exits == [0] and handlers == [True]  # exit handlers ran before the fast exit

    monkeypatch.setattr(sys, "argv", ["bigmodel", "train", str(tmp_path / "missing.yaml")])
    with pytest.raises(SystemExit) as stop:
        cli.entry()
    assert stop.value.code == 2  # failures exit the usual way, with their code
    assert exits == [0]
