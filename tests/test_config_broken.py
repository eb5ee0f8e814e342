"""Broken configs: each mistake is one located line, exit code 2, and never a traceback.

Every file in tests/broken_configs/ states on its first line where its error must point and
what it must say: `# expect: LINE KEY | TEXT` (LINE in this file) or `# expect: FILE:LINE ...`
(an error inside a base file). KEY is the dotted key, or `-` for mistakes that have none (YAML
syntax). A property test then mutates valid configs at random: config.load must answer every
one with a config or a ConfigError whose lines all point into the file.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from cli_runner import SHIPPED_CONFIGS, bigmodel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmodel_cli import config
from bigmodel_cli.errors import ConfigError

CORPUS = Path(__file__).resolve().parent / "broken_configs"
EXPECT = re.compile(r"# expect: (?P<where>\S+) (?P<key>\S+) \| (?P<text>.+)")


def corpus() -> list[tuple[Path, str, str, str]]:
    """(file, expected 'file:line' relative to the corpus, key, text) per broken config."""
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        match = EXPECT.fullmatch(path.read_text().splitlines()[0])
        assert match, f"{path.name}: first line must be '# expect: LINE KEY | TEXT'"
        where = match["where"]
        location = f"{path.name}:{where}" if where.isdigit() else where
        cases.append((path, location, match["key"], match["text"]))
    return cases


CASES = corpus()


def matches(line: str, key: str, text: str) -> bool:
    return (key == "-" or f": {key}: " in line) and text in line


def test_the_corpus_covers_every_kind_of_mistake():
    assert len(CASES) >= 30
    names = {path.stem for path, *_ in CASES}
    for kind in ("typo", "wrong_type", "bad_enum", "missing", "duplicate", "yaml", "base_cycle",
                 "env"):
        assert any(name.startswith(kind) for name in names), kind


@pytest.mark.parametrize("case", CASES, ids=lambda case: case[0].stem)
def test_broken_config_points_at_the_line_and_key(case):
    path, location, key, text = case
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    lines = str(caught.value).splitlines()
    prefix = f"{CORPUS / location}:"
    assert any(line.startswith(prefix) and matches(line, key, text) for line in lines), lines


def test_validate_reports_every_broken_file_in_one_run():
    result = bigmodel("config", "validate", *(path.name for path, *_ in CASES), cwd=CORPUS)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""  # not one of them is OK
    errors = result.stderr.splitlines()
    for path, location, key, text in CASES:
        # Each line starts with the file it is about; a base file's error comes after it.
        prefix = f"error: {location}:" if location.startswith(path.name) \
            else f"error: {path.name}: {location}:"
        assert any(line.startswith(prefix) and matches(line, key, text) for line in errors), \
            (path.name, [line for line in errors if line.startswith(f"error: {path.name}")])


VALID = """\
data:
  source: synthetic
model:
  family: mlp
  hidden_units: [8]
"""


@pytest.mark.parametrize("override, message", [
    ("training.epoch=3",
     "--set training.epoch=3: training.epoch: unknown key 'epoch'; did you mean 'epochs'?"),
    ("trainig.epochs=3",
     "--set trainig.epochs=3: trainig: unknown key 'trainig'; did you mean 'training'?"),
    ("data.batch_size=-1",
     "--set data.batch_size=-1: data.batch_size: input should be greater than 0 (got -1)"),
    ("model.family.units=3", "--set model.family.units=3: 'model.family' is a value, "
                             "not a section"),
    ("model.hidden_units.1=3", "--set model.hidden_units.1=3: 'model.hidden_units' is a list "
                               "of 1; index it with 0 to 0"),
    ("training.epochs=[1", "--set training.epochs=[1: cannot parse the value '[1' as YAML; "
                           "quote strings and write lists as [a, b]"),
    ("training.epochs", "--set 'training.epochs': expected KEY=VALUE, e.g. "
                        "--set optimizer.learning_rate=3e-4"),
    ("training..epochs=3", "--set training..epochs=3: empty part in the key 'training..epochs'; "
                           "write dotted keys like training.epochs"),
    ("data.data_dir=${env:BIGMODEL_TEST_NEVER_SET}",
     "--set data.data_dir=${env:BIGMODEL_TEST_NEVER_SET}: data.data_dir: environment variable "
     "BIGMODEL_TEST_NEVER_SET is not set; set it or give a default: "
     "${env:BIGMODEL_TEST_NEVER_SET,default}"),
])
def test_bad_set_is_one_exact_line(tmp_path, override, message):
    path = tmp_path / "c.yaml"
    path.write_text(VALID)
    with pytest.raises(ConfigError) as caught:
        config.load(path, [override])
    assert str(caught.value) == message


# --- random mutations of valid configs ----------------------------------------------------

SHIPPED = [yaml.safe_load(path.read_text()) for path in SHIPPED_CONFIGS]
SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats()
           | st.text(max_size=10)
           | st.sampled_from(["${env:HOME}", "${env:BIGMODEL_TEST_NEVER_SET}", "${env:", "${x}",
                              "c.yaml", "cnn", "auto", "cosine", "-1", "1e400", "[1, 2", "~"]))
JUNK = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
KEYS = st.text(max_size=10) | st.sampled_from(["base", "name", "family", "filters", "epochs"])


def containers(value, found=None) -> list:
    """Every (container, key) in a nested config, so a mutation can pick any depth."""
    found = [] if found is None else found
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((value, key))
        containers(item, found)
    return found


@st.composite
def mutated_config(draw) -> str:
    raw = copy.deepcopy(draw(st.sampled_from(SHIPPED)))
    for _ in range(draw(st.integers(1, 4))):
        places = containers(raw)
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["delete", "rename", "retype", "insert"]))
        if action == "delete":
            del container[key]
        elif action == "retype":
            container[key] = draw(JUNK)
        elif isinstance(container, dict):
            value = container.pop(key) if action == "rename" else draw(JUNK)
            container[draw(KEYS)] = value
        else:
            container.insert(key, draw(JUNK))
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    if draw(st.booleans()):  # and sometimes break the YAML itself
        position = draw(st.integers(0, len(text)))
        junk = draw(st.text(alphabet=":-[]{}\t\n &*!#'\"|>%@`,?", max_size=4))
        text = text[:position] + junk + text[position:]
    return text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_config())
def test_mutated_configs_give_a_config_or_located_errors(tmp_path_factory, text):
    """Never a traceback: a valid config (that `show --origin` can print) or located errors."""
    path = tmp_path_factory.getbasetemp() / "mutated" / "c.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    try:
        loaded = config.load(path)
    except ConfigError as error:
        for line in str(error).splitlines():
            assert line.startswith(str(path)) or line.startswith("... and "), line
        return
    raw, origins = config.resolve(path)  # what survived must also show with its origins,
    shown = yaml.safe_load(config.dump_with_origins(loaded, raw, origins))  # as valid YAML
    # (through JSON text, so that a NaN in optimizer.args compares equal to itself)
    assert json.dumps(shown, sort_keys=True) == \
        json.dumps(loaded.model_dump(mode="json"), sort_keys=True)
