"""Config loading: located errors, overrides, defaults, and no TensorFlow on this path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml
from cli_runner import CONFIGS, REPO, SHIPPED_CONFIGS

from bigmodel_cli import config
from bigmodel_cli.errors import ConfigError
from bigmodel_cli.names import MODEL_FAMILIES

VALID = """\
name: t
data:
  source: sklearn
  name: digits
model:
  family: cnn
  filters: [8]
"""


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path, overrides=()):
    with pytest.raises(ConfigError) as caught:
        config.load(path, overrides)
    return str(caught.value)


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    loaded = config.load(path)
    assert loaded.name
    assert path.read_text().startswith("# bigmodel train configs/")


def test_defaults_and_name_from_file(tmp_path):
    path = write(tmp_path, VALID.replace("name: t\n", ""), "digits_cnn.yaml")
    loaded = config.load(path)
    assert loaded.name == "digits_cnn"
    assert loaded.optimizer.name == "adam" and loaded.training.epochs == 10
    assert loaded.model.kernel_size == 3


def test_typo_names_file_line_and_suggestion(tmp_path):
    path = write(tmp_path, VALID.replace("filters:", "filtres:"))
    message = error_of(path)
    assert message == f"{path}:7:12: model.filtres: unknown key 'filtres'; did you mean 'filters'?"


def test_all_errors_reported_together(tmp_path):
    path = write(tmp_path, VALID + "training:\n  epochs: -1\n  epoch: 3\n")
    lines = error_of(path).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:9:11: training.epochs: input should be greater than 0")
    assert "did you mean 'epochs'" in lines[1]


def test_unknown_family_lists_known(tmp_path):
    message = error_of(write(tmp_path, VALID.replace("family: cnn", "family: cnm")))
    assert ":6:11: model.family: unknown model family 'cnm'; did you mean 'cnn'? " \
        f"known: {', '.join(sorted(MODEL_FAMILIES))}" in message


def test_unknown_optimizer_and_schedule(tmp_path):
    path = write(tmp_path, VALID + "optimizer:\n  name: rmsprp\n  schedule: cosin\n")
    message = error_of(path)
    assert "optimizer.name: unknown optimizer 'rmsprp'; did you mean 'rmsprop'?" in message
    assert "optimizer.schedule.name: unknown schedule 'cosin'; did you mean 'cosine'?" in message


def test_wrong_type_quotes_value(tmp_path):
    message = error_of(write(tmp_path, VALID + "seed: lots\n"))
    assert ":8:7: seed: input should be a valid integer" in message and "'lots'" in message


def test_invalid_yaml_has_line_and_column(tmp_path):
    message = error_of(write(tmp_path, "name: t\ndata: [1, 2\nmodel: {}\n"))
    assert message.startswith(f"{tmp_path / 'c.yaml'}:3:") and "invalid YAML" in message


def test_duplicate_key_is_an_error(tmp_path):
    message = error_of(write(tmp_path, VALID + "seed: 1\nseed: 2\n"))
    assert ":9:1: seed: duplicate key (first set at" in message
    assert message.endswith(":8:7); keep only one")


def test_python_tags_are_refused(tmp_path):
    message = error_of(write(tmp_path, VALID + "seed: !!python/object/apply:os.system [ls]\n"))
    assert "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in message


def test_missing_file():
    assert error_of("no/such.yaml") == "config file not found: no/such.yaml"


def test_set_overrides_are_yaml_typed(tmp_path):
    loaded = config.load(write(tmp_path, VALID), [
        "optimizer.learning_rate=3e-4", "model.filters=[16, 32]",
        "training.early_stopping.patience=2",
    ])
    assert loaded.optimizer.learning_rate == pytest.approx(3e-4)
    assert loaded.model.filters == [16, 32]
    assert loaded.training.early_stopping.patience == 2


def test_set_unknown_key_names_the_override(tmp_path):
    message = error_of(write(tmp_path, VALID), ["training.epoch=3"])
    assert message == ("--set training.epoch=3: training.epoch: unknown key 'epoch'; "
                       "did you mean 'epochs'?")


def test_set_without_equals(tmp_path):
    assert "expected KEY=VALUE" in error_of(write(tmp_path, VALID), ["training.epochs"])


def test_transformer_size_fills_unset_fields(tmp_path):
    text = VALID.replace("family: cnn\n  filters: [8]",
                         "family: transformer\n  size: small\n  num_heads: 8")
    loaded = config.load(write(tmp_path, text))
    assert (loaded.model.embed_dim, loaded.model.num_heads, loaded.model.num_layers) == (128, 8, 2)


def test_dump_round_trips(tmp_path):
    loaded = config.load(write(tmp_path, VALID))
    again = write(tmp_path, config.dump(loaded), "again.yaml")
    assert config.load(again) == loaded
    assert yaml.safe_load(config.dump(loaded))["optimizer"]["schedule"] == {
        "name": "constant", "warmup_steps": 0}


def test_validation_never_imports_tensorflow():
    code = ("import sys; from bigmodel_cli import cli, config; "
            f"config.load({str(CONFIGS / 'quickstart.yaml')!r}); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == "False False"
