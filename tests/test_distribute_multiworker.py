"""Two `bigmodel train` workers on 127.0.0.1 with TF_CONFIG, started by the launcher script.

MultiWorkerMirroredStrategy with Keras 3 needs the fixes in bigmodel_cli/runtime/keras_compat.py
(keras-team/keras issue 20585); without them these runs fail in their first step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from cli_runner import CONFIGS, REPO

LAUNCHER = REPO / "scripts" / "launch_multiworker.sh"
MLP = CONFIGS / "smoke" / "mlp.yaml"
TIMEOUT = 300


def launcher_environment(scratch):
    # TMPDIR: where the non-chief worker puts its scratch run directory, so the test sees it.
    return {**os.environ, "TMPDIR": str(scratch), "COLUMNS": "200", "PYTHONWARNINGS": "ignore",
            "BIGMODEL": f"{sys.executable} -m bigmodel_cli"}


def launch(run_dir, scratch, *overrides, **options):
    arguments = [item for override in overrides for item in ("--set", override)]
    command = ["bash", str(LAUNCHER), "2", str(MLP), "--run-dir", str(run_dir), *arguments]
    return command, {"cwd": REPO, "env": launcher_environment(scratch), "text": True, **options}


def wait_for_first_backup(process, run_dir, output_path):
    deadline = time.monotonic() + TIMEOUT
    while not list(run_dir.glob("backup/state-*.json")):
        assert process.poll() is None, f"workers ended early:\n{output_path.read_text()}"
        assert time.monotonic() < deadline, f"no backup in time:\n{output_path.read_text()}"
        time.sleep(0.05)


def test_two_workers_resume_after_a_kill_end_in_sync_and_only_the_chief_keeps_files(tmp_path):
    run_dir, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    overrides = ("training.epochs=2", "training.tensorboard=false")

    # A first launch, killed (like a lost machine) right after its first epoch's backup.
    output_path = tmp_path / "first.log"
    command, options = launch(run_dir, scratch, *overrides)
    with open(output_path, "w") as output:
        first = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                 start_new_session=True, **options)
        try:
            wait_for_first_backup(first, run_dir, output_path)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    shutil.rmtree(scratch)  # a killed worker cannot remove its scratch directory
    scratch.mkdir()

    # The same command again: every worker resumes from the chief's backup.
    command, options = launch(run_dir, scratch, *overrides)
    second = subprocess.run(command, capture_output=True, timeout=TIMEOUT, **options)
    assert second.returncode == 0, second.stdout + second.stderr
    for worker in (0, 1):
        assert re.search(rf"^\[worker {worker}\] resuming from step [1-9]", second.stdout,
                         re.MULTILINE), second.stdout
    fingerprints = dict(re.findall(r"^\[worker (\d)\] worker \d: final weights (\w+)$",
                                   second.stdout, re.MULTILINE))
    assert set(fingerprints) == {"0", "1"} and fingerprints["0"] == fingerprints["1"]

    results = json.loads((run_dir / "results.json").read_text())
    assert results["distribute"]["strategy"] == "MultiWorkerMirroredStrategy"
    assert (results["distribute"]["workers"], results["distribute"]["replicas"]) == (2, 2)
    assert results["epochs"] == 2
    epochs = [json.loads(line)["epoch"] for line in
              (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    assert (run_dir / "checkpoints" / "last.keras").is_file()
    assert list(scratch.iterdir()) == []  # worker 1 wrote there and removed it
    assert [path for path in tmp_path.rglob("*.keras") if run_dir not in path.parents] == []


def test_the_launcher_fails_when_a_worker_fails(tmp_path):
    command, options = launch(tmp_path / "run", tmp_path, "training.epochs=0")
    result = subprocess.run(command, capture_output=True, timeout=TIMEOUT, **options)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "failed (exit 2); stopping the others" in result.stderr
    assert re.search(r"^\[worker [01]\] error: .*training.epochs", result.stderr, re.MULTILINE)
