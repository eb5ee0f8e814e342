"""bigmodel sweep: the sweep file's checks, and a real sweep killed mid-trial that resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_runner import CONFIGS, REPO, bigmodel
from PIL import Image

from bigmodel_cli import config as config_module
from bigmodel_cli.errors import ConfigError
from bigmodel_cli.sweep import spec

SWEEP = f"""name: tiny
base: {CONFIGS / 'smoke' / 'mlp.yaml'}
set:
  training.epochs: 3
  training.jit_compile: false
  data.batch_size: 4
space:
  optimizer.learning_rate: {{loguniform: [1.0e-3, 1.0e-1]}}
  model.hidden_units: {{choice: [[8], [16]]}}
trials: 4
metric: val_accuracy
direction: maximize
sampler: random
pruner: none
"""


def test_the_sweep_file_is_checked_with_file_line_and_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP.replace("trials: 4", "trials: 4\nsampelr: tpe"))
    with pytest.raises(ConfigError, match=r"s.yaml:\d+:\d+: sampelr: Extra inputs"):
        spec.load(path)
    path.write_text(SWEEP.replace("loguniform: [1.0e-3", "loguniform: [0.0"))
    with pytest.raises(ConfigError, match=r"space.optimizer.learning_rate: loguniform: low "
                                          r"must be > 0"):
        spec.load(path)
    path.write_text(SWEEP.replace("sampler: random", "sampler: grid"))
    with pytest.raises(ConfigError, match="grid needs choice, int or uniform with a step"):
        spec.load(path)
    path.write_text(SWEEP.replace("optimizer.learning_rate: {loguniform: [1.0e-3, 1.0e-1]}",
                                  "data.batch_size: {int: [4, 12], step: 4}")
                    .replace("sampler: random", "sampler: grid").replace("trials: 4\n", ""))
    sweep, base = spec.load(path)
    assert sweep.grid_space() == {"data.batch_size": [4, 8, 12],
                                  "model.hidden_units": ["[8]", "[16]"]}
    assert sweep.trial_count() == 6 and base == CONFIGS / "smoke" / "mlp.yaml"


@pytest.mark.parametrize("path", sorted((CONFIGS / "sweeps").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_every_shipped_sweep_file_loads_and_its_trials_are_valid_configs(path):
    from bigmodel_cli.sweep import study

    assert path.read_text().startswith(f"# bigmodel sweep configs/sweeps/{path.name}")
    sweep, base = spec.load(path)
    first = {key: dimension.bounds(dimension.kind)[0] if dimension.kind != "choice"
             else dimension.choice[0] for key, dimension in sweep.space.items()}
    config = study.trial_config(sweep, base, first, 0)
    assert config.name == f"{sweep.name}-trial-000"
    assert config.optimizer.learning_rate == first["optimizer.learning_rate"]


@pytest.mark.slow
def test_a_killed_sweep_resumes_its_trial_and_completes_every_trial(tmp_path):
    import optuna

    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(SWEEP)
    runs = tmp_path / "runs"
    folder = runs / "tiny"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "bigmodel_cli", "sweep", str(sweep_file),
                                "--runs", str(runs)], cwd=str(REPO), env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # killed once trial 1 has a backup: in the middle of trial 1
        deadline = time.time() + 240
        while not list((folder / "trial-001" / "backup").glob("state-*.json")):
            assert time.time() < deadline and process.poll() is None, "trial 1 never started"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()

    result = bigmodel("sweep", sweep_file, "--runs", runs)
    assert result.returncode == 0, result.stderr
    assert "trial 1: resuming from" in result.stdout
    # The run itself went on from its backup (epoch 1 of 3 was done), not from scratch.
    assert "resuming from step" in (folder / "logs" / "trial-001.log").read_text()
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{folder / 'study.db'}")
    trials = study.get_trials()
    assert [trial.state for trial in trials] == [optuna.trial.TrialState.COMPLETE] * 4
    for trial in trials:  # every trial a finished run of 3 epochs, none logged twice
        run_dir = folder / f"trial-{trial.number:03d}"
        assert (run_dir / "results.json").is_file()
        epochs = [line for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert len(epochs) == 3

    best = study.best_trial
    best_yaml = config_module.load(folder / "best.yaml")  # validates
    trial_config = config_module.load_saved(folder / f"trial-{best.number:03d}" / "config.yaml")
    assert best_yaml.model_dump() == trial_config.model_dump()
    assert best_yaml.optimizer.learning_rate == pytest.approx(
        best.params["optimizer.learning_rate"])
    assert str(best_yaml.model.hidden_units).replace(" ", "") == \
        best.params["model.hidden_units"].replace(" ", "")
    assert best_yaml.training.epochs == 3  # the sweep's `set`
    with Image.open(folder / "plots" / "sweep.png") as image:
        assert image.size == (1000, 400) or image.size == (600, 400)
        assert np.asarray(image.convert("L")).var() > 0

    again = bigmodel("sweep", sweep_file, "--runs", runs)  # nothing left to do
    assert again.returncode == 0 and "resuming" not in again.stdout
    assert len(optuna.load_study(study_name="tiny",
                                 storage=f"sqlite:///{folder / 'study.db'}").trials) == 4
