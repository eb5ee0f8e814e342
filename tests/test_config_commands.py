"""`bigmodel config validate` (without --dry-run: no TensorFlow) and `bigmodel init`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_runner import CONFIGS, REPO, SHIPPED_CONFIGS, bigmodel

from bigmodel_cli import config
from bigmodel_cli.config.starter import starter_config
from bigmodel_cli.errors import UsageError

SHIPPED = SHIPPED_CONFIGS


def test_validate_every_shipped_config_without_importing_tensorflow():
    # -X importtime lists every module the command imported, on stderr.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bigmodel_cli", "config", "validate",
         *SHIPPED], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [f"OK {path}" for path in SHIPPED]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "bigmodel_cli.config" in imported  # the listing is real
    assert not {name for name in imported if name.split(".")[0] in ("tensorflow", "keras")}


def test_validate_mixes_ok_lines_and_errors_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  source: synthetic\nmodel:\n  family: mlp\n  hidden_unit: [8]\n")
    missing = tmp_path / "missing.yaml"
    good = CONFIGS / "smoke" / "mlp.yaml"
    result = bigmodel("config", "validate", good, bad, missing, "--set", "training.epochs=1")
    assert result.returncode == 2
    assert result.stdout == f"OK {good}\n"
    assert result.stderr.splitlines() == [
        f"error: {bad}:5:16: model.hidden_unit: unknown key 'hidden_unit'; "
        "did you mean 'hidden_units'?",
        f"error: {missing}: config file not found: {missing}",
    ]


def test_validate_names_the_file_of_a_bad_set():
    result = bigmodel("config", "validate", CONFIGS / "quickstart.yaml", "--set", "seed=many")
    assert result.returncode == 2
    assert result.stderr == (f"error: {CONFIGS / 'quickstart.yaml'}: --set seed=many: seed: "
                             "input should be a valid integer, unable to parse string as an "
                             "integer (got 'many')\n")


@pytest.mark.parametrize("arguments", [
    {"family": "mlp"}, {"family": "cnn"}, {"family": "rnn"}, {"family": "transformer"},
    {"family": "rnn", "dataset": "imdb"}, {"family": "cnn", "dataset": "cifar10"},
    {"family": "transformer", "source": "synthetic"}, {"family": "mlp", "dataset": "iris"},
    {"family": "cnn", "dataset": "imdb_reviews", "source": "tfds"}, {"family": "gpt"},
], ids=lambda arguments: "-".join(arguments.values()))
def test_init_writes_a_config_that_validates(tmp_path, arguments):
    text = starter_config(**arguments)
    path = tmp_path / "starter.yaml"
    path.write_text(text)
    loaded = config.load(path)
    assert loaded.model.family == arguments["family"]
    assert loaded.data.name == arguments.get("dataset", loaded.data.name)
    assert text.startswith("# A ") and "bigmodel train" in text
    assert sum("  # " in line for line in text.splitlines()) >= 8  # commented, not bare


def test_init_infers_the_source_from_the_dataset():
    assert "source: keras" in starter_config("rnn", "imdb")
    assert "source: sklearn" in starter_config("mlp", "wine")
    assert "source: tfds" in starter_config("cnn", "oxford_flowers102")
    assert "source: sklearn" in starter_config() and "name: digits" in starter_config()


@pytest.mark.parametrize("arguments, message", [
    (("cnm",), "--family: unknown model family 'cnm'; did you mean 'cnn'?"),
    (("cnn", "iris"), "--family cnn cannot read the vector inputs of 'iris'; use --family mlp"),
    (("mlp", "irsi", "sklearn"), "--dataset: unknown scikit-learn dataset 'irsi'; "
                                 "did you mean 'iris'?"),
    (("mlp", "digits", "synthetic"), "--dataset digits: synthetic data has no name"),
    (("mlp", None, "kagle"), "--source: unknown data source 'kagle'"),
])
def test_init_refuses_what_cannot_work(arguments, message):
    with pytest.raises(UsageError) as caught:
        starter_config(*arguments)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("source, family, placeholders", [
    ("image_folder", "cnn", ["path: path/to/images"]),
    ("text_folder", "cnn", ["path: path/to/texts"]),
    ("csv", "mlp", ["path: path/to/data.csv", "label_column: label"]),  # a cnn reads no tables
    ("npz", "mlp", ["path: path/to/data.npz"]),  # an mlp reads whatever the archive holds
])
def test_init_for_a_file_source_writes_placeholders_and_validates(tmp_path, source, family,
                                                                   placeholders):
    result = bigmodel("init", "--source", source)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "starter.yaml"
    path.write_text(result.stdout)
    loaded = config.load(path)
    assert loaded.name == f"{family}_{source}" and loaded.model.family == family
    assert loaded.data.source == source
    lines = [line.split("#")[0].strip() for line in result.stdout.splitlines()
             if "# fill in:" in line]
    assert lines == placeholders
    assert "Replace the values marked `fill in`" in result.stdout


def test_init_refuses_a_family_that_cannot_read_the_source():
    with pytest.raises(UsageError, match="--family cnn cannot read the table inputs of csv "
                                         "data; use --family mlp"):
        starter_config("cnn", source="csv")


@pytest.mark.parametrize("dataset, closest", [("mnsit", "mnist"), ("irsi", "iris"),
                                              ("cifar1O", "cifar10")])
def test_init_suggests_a_dataset_instead_of_taking_a_typo_for_tfds(dataset, closest):
    with pytest.raises(UsageError) as caught:
        starter_config("mlp", dataset)
    assert str(caught.value) == f"--dataset: unknown dataset '{dataset}'; did you mean " \
                                f"'{closest}'? (for the tfds dataset of that name, add " \
                                "--source tfds)"
    assert "source: tfds" in starter_config("mlp", dataset, "tfds")  # said explicitly


def test_init_on_the_command_line(tmp_path):
    result = bigmodel("init", "--family", "rnn", "--dataset", "digits")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "rnn.yaml"
    path.write_text(result.stdout)
    assert config.load(path).model.family == "rnn"
    wrong = bigmodel("init", "--family", "cnm")
    assert wrong.returncode == 2 and "did you mean 'cnn'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
