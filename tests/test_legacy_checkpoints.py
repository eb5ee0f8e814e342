"""Checkpoints saved before the package layout changed still load and predict the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_runner import bigmodel

LEGACY = Path(__file__).parent / "fixtures" / "legacy_runs"


@pytest.mark.parametrize(("run", "inputs"), [
    ("text", ["fisovu rodo muge moki", "bofizo kelipu gukaze gupe gabobi"]),
    ("image", ["inputs.npy"]),
])
def test_legacy_run_predicts_what_it_predicted_when_saved(tmp_path, run, inputs):
    folder = shutil.copytree(LEGACY / run, tmp_path / run)  # predict must not touch the fixture
    result = bigmodel("predict", folder, *inputs, "--format", "jsonl", cwd=folder)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [json.loads(line) for line in (folder / "expected.jsonl").read_text().splitlines()]
    assert [row["input"] for row in rows] == [row["input"] for row in expected]
    for row, old in zip(rows, expected, strict=True):
        assert [guess["class"] for guess in row["top"]] == [guess["class"] for guess in old["top"]]
        assert [guess["probability"] for guess in row["top"]] == pytest.approx(
            [guess["probability"] for guess in old["top"]], abs=1e-5)


def test_a_legacy_run_config_is_no_config_change(tmp_path):
    """An older config.yaml lists every data key at its default: resuming with the same
    config must not report those keys as changes."""
    from bigmodel_cli import config
    from bigmodel_cli.runs import RunDir
    from bigmodel_cli.train import resume

    folder = shutil.copytree(LEGACY / "text", tmp_path / "text")
    assert "x_key" in (folder / "config.yaml").read_text()  # written before the source union
    same = config.load_saved(folder / "config.yaml").model_dump(mode="json")
    reports = []
    resume.check_config_change(RunDir(folder), same, force=False, report=reports.append)
    assert reports == []


def test_evaluating_a_run_whose_splits_were_cut_the_old_way_warns(tmp_path):
    folder = shutil.copytree(LEGACY / "image", tmp_path / "image")
    assert "split_cut" not in (folder / "spec.json").read_text()  # saved before the sklearn cut
    result = bigmodel("evaluate", folder, "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "cut from its training data by an earlier bigmodel" in result.stderr
    assert json.loads(result.stdout)["examples"] > 0
