"""`bigmodel`'s help reads like a well-kept CLI's, and click's usage errors look like bigmodel's."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from cli_runner import REPO, bigmodel

COMMANDS = {  # command: the usage line its help starts with
    "": "Usage: bigmodel [OPTIONS] COMMAND [ARGS]...",
    "train": "Usage: bigmodel train [OPTIONS] CONFIG",
    "evaluate": "Usage: bigmodel evaluate [OPTIONS] RUN_DIR",
    "predict": "Usage: bigmodel predict [OPTIONS] RUN_DIR INPUT...",
    "generate": "Usage: bigmodel generate [OPTIONS] RUN_DIR",
    "explain": "Usage: bigmodel explain [OPTIONS] RUN_DIR INPUT...",
    "export": "Usage: bigmodel export [OPTIONS] RUN_DIR",
    "serve": "Usage: bigmodel serve [OPTIONS] RUN_OR_EXPORT",
    "init": "Usage: bigmodel init [OPTIONS]",
    "config": "Usage: bigmodel config [OPTIONS] COMMAND [ARGS]...",
    "config show": "Usage: bigmodel config show [OPTIONS] CONFIG",
    "config validate": "Usage: bigmodel config validate [OPTIONS] CONFIG...",
    "config schema": "Usage: bigmodel config schema [OPTIONS]",
    "data": "Usage: bigmodel data [OPTIONS] COMMAND [ARGS]...",
    "data inspect": "Usage: bigmodel data inspect [OPTIONS] CONFIG",
    "report": "Usage: bigmodel report [OPTIONS] RUN_DIR",
    "runs": "Usage: bigmodel runs [OPTIONS] [FOLDER]",
    "compare": "Usage: bigmodel compare [OPTIONS] RUN_DIR...",
    "sweep": "Usage: bigmodel sweep [OPTIONS] SWEEP_FILE",
    "tensorboard": "Usage: bigmodel tensorboard [OPTIONS] [FOLDER]",
}
# typer's placeholders for a value's type: <path>, <str>, <int range>, <list[str]>, ...
TYPE_PLACEHOLDER = re.compile(r"<(?:path|str|int|float|bool|list\[[^>]*\]|[a-z]+ range)>")


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    texts = {}
    for command in COMMANDS:
        result = bigmodel(*command.split(), "--help")
        assert result.returncode == 0, result.stderr
        texts[command] = result.stdout
    return texts


def section(text: str, title: str) -> list[str]:
    """The lines of one section of a help text (up to the next blank line)."""
    lines = text.split(f"\n{title}:\n", 1)[1].split("\n\n", 1)[0]
    return lines.splitlines()


@pytest.mark.parametrize("command", COMMANDS)
def test_usage_names_arguments_and_values_have_no_type_placeholders(helps, command):
    text = helps[command]
    assert text.splitlines()[0] == COMMANDS[command]
    assert "{" not in text and not TYPE_PLACEHOLDER.search(text), text
    assert "[required]" not in text  # the usage line says which arguments are required


@pytest.mark.parametrize("command", COMMANDS)
def test_each_help_ends_with_examples_of_its_command(helps, command):
    text = helps[command].rstrip("\n")
    examples = section(text, "Examples")
    assert text.endswith("\n".join(examples)), "Examples is not the last section"
    commands = [line.strip() for line in examples if not line.startswith("      ")]
    assert 1 <= len(commands) <= 2
    assert all(line.startswith(f"bigmodel {command}".rstrip()) or command == ""
               and line.startswith("bigmodel ") for line in commands), examples


@pytest.mark.parametrize("group", ["", "config", "data"])
def test_command_summaries_are_whole_sentences(helps, group):
    rows = section(helps[group], "Commands")
    assert rows
    for row in rows:
        name, summary = row.split(maxsplit=1)
        assert summary.endswith(".") and not summary.endswith("..."), row
        full = helps[f"{group} {name}".strip()].split("\n\n")[1].strip()
        assert " ".join(full.split()) == summary  # the first paragraph of its own help


def test_choice_options_list_their_values(helps):
    from bigmodel_cli import cli
    from bigmodel_cli.predict import inference

    assert "--format [table|jsonl|csv]" in helps["predict"]
    assert "--split [train|validation|test]" in helps["evaluate"]
    assert [split.value for split in cli.Split] == list(inference.SPLITS)


def test_predict_help_names_every_input_kind_it_reads(helps):
    text = helps["predict"]
    for kind in (".png", ".jpg", ".npy", ".npz", "text files", "CSV files", "raw strings",
                 "folders"):
        assert kind in text, kind


@pytest.mark.parametrize("group", ["", "config", "data"])
def test_a_bare_group_prints_its_help_on_stdout_and_succeeds(helps, group):
    result = bigmodel(*group.split())
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout == helps[group]


@pytest.mark.parametrize("arguments, message", [
    (["train"], "missing argument 'CONFIG' (see 'bigmodel train --help')"),
    (["predict", "runs/x"], "missing argument 'INPUT' (see 'bigmodel predict --help')"),
    (["train", "c.yaml", "--epochs", "3"],
     "no such option: --epochs (see 'bigmodel train --help')"),
    (["init", "--family"], "option '--family' requires an argument (see 'bigmodel init --help')"),
    (["trian"], "no such command 'trian'; did you mean 'train'? (see 'bigmodel --help')"),
    (["x:fire:[b]"], "no such command 'x:fire:[b]' (see 'bigmodel --help')"),  # user text
    (["predict", "r", "a", "--format", "xml"],
     "invalid value for '--format': 'xml' is not one of 'table', 'jsonl', 'csv' "
     "(see 'bigmodel predict --help')"),
    (["evaluate", "r", "--split", "tset"],
     "invalid value for '--split': 'tset' is not one of 'train', 'validation', 'test' "
     "(see 'bigmodel evaluate --help')"),
])
def test_click_usage_errors_are_one_line_in_bigmodels_style(arguments, message):
    result = bigmodel(*arguments)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""


def test_help_loads_neither_tensorflow_nor_the_rich_help_formatter():
    code = ("import sys; from bigmodel_cli import cli; cli.main(['predict', '--help']); "
            "print(sorted({'tensorflow', 'typer.rich_utils', 'rich.markdown'} & set(sys.modules)))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=REPO, check=True)
    assert shown.stdout.splitlines()[0] == "Usage: bigmodel predict [OPTIONS] RUN_DIR INPUT..."
    assert shown.stdout.splitlines()[-1] == "[]"
