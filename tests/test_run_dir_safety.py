"""The run directory is the unit: bigmodel never deletes what it did not write, changes nothing
when a start is refused, extends finished runs, tidies its own leftovers and names the user's
path when the operating system says no."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_runner import CONFIGS, REPO, bigmodel

from bigmodel_cli import atomic
from bigmodel_cli.errors import RunError
from bigmodel_cli.runs import RunDir
from bigmodel_cli.runtime import distribute

MLP = CONFIGS / "smoke" / "mlp.yaml"
DETERMINISTIC = ("--set", "training.deterministic=true")
UMASK = 0o027  # neither mkstemp's 0600 nor the usual 0644


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 3-epoch run, trained under UMASK with its own system temp dir."""
    root = tmp_path_factory.mktemp("finished")
    system_temp = root / "tmp"
    system_temp.mkdir()
    previous = os.umask(UMASK)
    try:
        with _environment(TMPDIR=str(system_temp)):
            result = bigmodel("train", MLP, "--run-dir", root / "run", *DETERMINISTIC)
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    return root / "run", system_temp


def copy_run(source: Path, destination: Path) -> Path:
    # cp -a keeps hard links: best.keras and last.keras are second names of an epoch file.
    subprocess.run(["cp", "-a", str(source), str(destination)], check=True)
    return destination


def snapshot(folder: Path) -> dict:
    """Every path under `folder` with its bytes and mode: equal snapshots, equal folders."""
    return {path.relative_to(folder).as_posix(): (path.read_bytes() if path.is_file() else None,
                                                  path.stat().st_mode)
            for path in sorted(folder.rglob("*"))}


@contextlib.contextmanager
def _environment(**values):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


# --- item 1: someone else's folder, and what --restart deletes ----------------------------------

def test_a_folder_that_is_not_a_run_is_refused_and_restart_deletes_nothing_of_it(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    (folder / "config.yaml").write_text("my own config\n")
    before = snapshot(folder)
    for extra in ((), ("--restart",)):
        result = bigmodel("train", MLP, "--run-dir", folder, *extra)
        assert result.returncode == 2, result.stderr
        line = one_error_line(result)
        assert f"--run-dir {folder} is not empty" in line and "holds no bigmodel run" in line
        assert snapshot(folder) == before


def test_restart_removes_only_what_bigmodel_wrote_and_says_what(finished, tmp_path):
    run_dir = copy_run(finished[0], tmp_path / "run")
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / "checkpoints" / "my_model.keras").write_text("mine too")
    # A failure before training (an optimizer argument Adam does not take) deletes nothing.
    before = snapshot(run_dir)
    refused = bigmodel("train", MLP, "--run-dir", run_dir, "--restart",
                       "--set", "optimizer.args={bogus: 1}")
    assert refused.returncode == 2 and "takes no argument 'bogus'" in one_error_line(refused)
    assert snapshot(run_dir) == before

    result = bigmodel("train", MLP, "--run-dir", run_dir, "--restart",
                      "--set", "training.epochs=1")
    assert result.returncode == 0, result.stderr
    removed = next(line for line in result.stdout.splitlines()
                   if line.startswith("--restart: removed"))
    for name in ("config.yaml", "results.json", "metrics.jsonl", "checkpoints/ (", "backup/"):
        assert name in removed
    assert "--restart: kept what bigmodel did not write: notes.txt, checkpoints/ (1 file)" \
        in result.stdout
    assert (run_dir / "notes.txt").read_text() == "mine"
    assert (run_dir / "checkpoints" / "my_model.keras").read_text() == "mine too"
    assert json.loads((run_dir / "results.json").read_text())["epochs"] == 1
    assert sorted(path.name for path in (run_dir / "checkpoints").glob("epoch-*")) == [
        "epoch-0001.keras"]


def test_restart_removes_the_old_export_and_explanations_but_no_look_alike(finished, tmp_path):
    run_dir = copy_run(finished[0], tmp_path / "run")
    (run_dir / "export" / "saved_model" / "variables").mkdir(parents=True)
    (run_dir / "export" / "export.json").write_text("{}")
    (run_dir / "export" / "saved_model" / "variables" / "variables.index").write_text("old")
    (run_dir / "explanations").mkdir()
    for name in ("explanations.json", "explanations.html", "000-cat.png", "grid.png", "mine.txt"):
        (run_dir / "explanations" / name).write_text("x")
    removed, kept = RunDir(run_dir).remove_own()  # what --restart deletes
    assert "export/" in removed and not (run_dir / "export").exists()
    assert "explanations/ (4 files)" in removed
    assert kept == ["explanations/ (1 file)"]
    assert (run_dir / "explanations" / "mine.txt").exists()

    # An "export" folder without export.json is someone else's: kept whole.
    other = copy_run(finished[0], tmp_path / "other")
    (other / "export").mkdir()
    (other / "export" / "model.onnx").write_text("mine")
    removed, kept = RunDir(other).remove_own()
    assert kept == ["export/ (1 file)"] and (other / "export" / "model.onnx").exists()
    assert not any("export" in item for item in removed)


# --- item 2: a refused or failed resume changes nothing ------------------------------------------

def interrupted_run(run_dir: Path) -> None:
    """An unfinished run with backups: killed (-9) once its first backups are written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bigmodel_cli", "train", str(MLP), "--run-dir", str(run_dir),
         "--set", "training.epochs=1000", "--set", "checkpoint.backup_every_steps=1"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(run_dir.glob("backup/state-*.json"))) < 2:
        assert process.poll() is None and time.monotonic() < deadline, "no backup in time"
        time.sleep(0.01)
    process.kill()
    process.wait()


def test_a_refused_or_failed_resume_leaves_the_run_directory_byte_for_byte(tmp_path):
    run_dir = tmp_path / "run"
    interrupted_run(run_dir)
    RunDir(run_dir).remove_abandoned_temporaries()  # what kill -9 may leave: the next step's
    before = snapshot(run_dir)
    # --force with a model the backup's weights do not fit: it fails when loading them.
    result = bigmodel("train", MLP, "--run-dir", run_dir, "--set", "training.epochs=1000",
                      "--set", "checkpoint.backup_every_steps=1",
                      "--set", "model.hidden_units=[32]", "--force")
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert "its weights do not fit this model (hidden_0/kernel is (4, 32) here and (4, 16) " \
           "there)" in line
    assert "value=" not in result.stderr and "[[" not in result.stderr
    assert snapshot(run_dir) == before

    # Every backup damaged (truncated weights): nothing to resume, nothing changed.
    for weights in run_dir.glob("backup/state-*.weights.h5"):
        weights.write_bytes(weights.read_bytes()[:100])
    before = snapshot(run_dir)
    result = bigmodel("train", MLP, "--run-dir", run_dir, "--set", "training.epochs=1000",
                      "--set", "checkpoint.backup_every_steps=1")
    assert result.returncode == 1, result.stderr
    assert "no intact backup to resume from" in one_error_line(result)
    assert "no older one is left" in result.stdout
    assert snapshot(run_dir) == before


# --- item 5: a finished run and another config; --extend ---------------------------------------

@pytest.mark.parametrize("change, shown", [
    (("--set", "training.epochs=5"), "training.epochs: 3 -> 5"),
    (("--set", "distribute.strategy=cpu"), "distribute.strategy: 'auto' -> 'cpu'"),
    (("--set", "model.hidden_units=[8]"), "model.hidden_units: [16] -> [8]"),
])
def test_a_finished_run_given_another_config_names_the_keys_and_exits_2(finished, change,
                                                                         shown):
    run_dir = finished[0]
    before = snapshot(run_dir)
    result = bigmodel("train", MLP, "--run-dir", run_dir, *DETERMINISTIC, *change)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert "holds a finished run (3 epochs) whose config differs" in line and shown in line
    assert "--restart" in line and "another --run-dir" in line
    assert ("--extend" in line) == ("model." not in shown)
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("change, expected", [
    (("--set", "training.epochs=3"), "training.epochs is 3 and the run"),
    (("--set", "training.epochs=5", "--set", "model.hidden_units=[8]"),
     "would train something else: model.hidden_units: [16] -> [8]"),
    (("--restart",), "pass one of them"),
])
def test_extend_refuses_what_it_cannot_honour(finished, change, expected):
    before = snapshot(finished[0])
    result = bigmodel("train", MLP, "--run-dir", finished[0], *DETERMINISTIC, "--extend", *change)
    assert result.returncode == 2, result.stderr
    assert expected in one_error_line(result)
    assert snapshot(finished[0]) == before


def final_state(run_dir: Path):
    import keras

    import bigmodel_cli.models  # noqa: F401  registers bigmodel's layers
    import bigmodel_cli.train.optimizer  # noqa: F401

    model = keras.models.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    return model.get_weights(), int(model.optimizer.iterations)


def test_extend_trains_a_finished_run_on_with_its_weights_and_optimizer(finished, tmp_path):
    run_dir = copy_run(finished[0], tmp_path / "run")
    result = bigmodel("train", MLP, "--run-dir", run_dir, *DETERMINISTIC, "--extend",
                      "--set", "training.epochs=4")
    assert result.returncode == 0, result.stderr
    assert "extending from step 21 (epoch 4, step 0 of 7)" in result.stdout
    logged = [json.loads(line)["epoch"] for line in
              (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3, 4]
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 28
    assert "epochs: 4" in (run_dir / "config.yaml").read_text()

    # The same as training 4 epochs in one go: the weights and Adam's state carried on.
    straight = tmp_path / "straight"
    trained = bigmodel("train", MLP, "--run-dir", straight, *DETERMINISTIC,
                       "--set", "training.epochs=4")
    assert trained.returncode == 0, trained.stderr
    (extended, steps), (expected, expected_steps) = final_state(run_dir), final_state(straight)
    assert steps == expected_steps == 28
    for actual, wanted in zip(extended, expected, strict=True):
        np.testing.assert_allclose(actual, wanted, rtol=1e-6, atol=1e-7)

    again = bigmodel("train", MLP, "--run-dir", run_dir, *DETERMINISTIC,
                     "--set", "training.epochs=4")
    assert again.returncode == 0 and "holds a finished run" in again.stdout


# --- item 6: leftovers of a killed process ------------------------------------------------------

def abandoned_temporary(path: Path) -> Path:
    """A half-written temporary file whose writer died (os._exit in the middle of a write)."""
    code = ("import os, sys; from bigmodel_cli import atomic; "
            "context = atomic.atomic_path(sys.argv[1]); temporary = context.__enter__(); "
            "temporary.write_text('half'); print(temporary); os._exit(0)")
    written = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.strip()
    return Path(written)


def test_the_next_command_removes_half_written_files_of_a_killed_process(finished, tmp_path):
    run_dir = copy_run(finished[0], tmp_path / "run")
    dead = [abandoned_temporary(run_dir / name) for name in
            ("config.yaml", "checkpoints/last.keras", "backup/state-000000021.weights.h5")]
    older = run_dir / ".results.json.tmp-k3j5h2x_.json"  # a name without its writer's id
    older.write_text("half")
    users = run_dir / ".notes.txt.tmp-abcdefgh"  # looks alike, but not a file of bigmodel's
    users.write_text("mine")
    with atomic.atomic_path(run_dir / "metrics.jsonl") as live:  # this process still writes
        result = bigmodel("train", MLP, "--run-dir", run_dir, *DETERMINISTIC)
        assert result.returncode == 0, result.stderr
        assert not any(path.exists() for path in [*dead, older])
        assert live.exists() and users.exists()
    dead = abandoned_temporary(run_dir / "spec.json")
    RunDir(run_dir).require()  # what evaluate and predict open a run with
    assert not dead.exists()


def test_a_killed_workers_scratch_directory_is_removed_by_the_next_worker(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    abandoned = tmp_path / f"bigmodel-worker1-{gone}-abcd_123"
    running = tmp_path / f"bigmodel-worker2-{os.getpid()}-abcd_123"
    for folder in (abandoned, running):
        (folder / "checkpoints").mkdir(parents=True)
    scratch_run, scratch = distribute.worker_run_dir((1, 2), RunDir(tmp_path / "run"))
    assert not abandoned.exists() and running.exists()
    assert scratch_run.path.name.startswith(f"bigmodel-worker1-{os.getpid()}-")
    scratch.cleanup()


def test_a_run_leaves_nothing_in_the_system_temp_dir(finished):
    assert list(finished[1].iterdir()) == []


# --- item 7: failures before training leave no new run directory ----------------------------------

def test_failures_before_training_leave_no_run_directory(finished, tmp_path):
    attempts = [
        (("--set", "optimizer.args={bogus: 1}"), "takes no argument 'bogus'"),
        (("--init-from", tmp_path / "missing"), "expected a run directory or a .keras"),
        (("--init-from", finished[0], "--set", "model.hidden_units=[32]"),
         "its weights do not fit this model"),
        (("--set", "checkpoint.monitor=val_los"), "did you mean 'val_loss'"),
    ]
    for index, (arguments, expected) in enumerate(attempts):
        run_dir = tmp_path / f"run{index}"
        result = bigmodel("train", MLP, "--run-dir", run_dir, *arguments)
        assert result.returncode == 2, result.stderr
        assert expected in one_error_line(result)
        assert not run_dir.exists()


# --- item 12: the operating system says no --------------------------------------------------------

def test_a_run_dir_that_is_a_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "results.txt"
    path.write_text("mine")
    for run_dir in (path, path / "run"):
        result = bigmodel("train", MLP, "--run-dir", run_dir)
        assert result.returncode == 1, result.stderr
        assert f"{path} is a file, not a folder" in one_error_line(result)
    assert path.read_text() == "mine"


def test_predict_output_that_is_a_folder_names_it(finished, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((1, 4), dtype="float32"))
    folder = tmp_path / "out"
    folder.mkdir()
    result = bigmodel("predict", finished[0], tmp_path / "x.npy", "--output", folder)
    assert result.returncode == 1, result.stderr
    line = one_error_line(result)
    assert f"cannot write {folder}: Is a directory; it is a folder; name a file" in line
    assert ".tmp-" not in result.stderr and list(tmp_path.glob(".*")) == []


def limit_file_size():
    # Writes past 20 kB fail with EFBIG, as a full disk fails them (Python ignores SIGXFSZ).
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_write_that_fails_mid_training_names_the_file_and_leaves_no_temporary(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "bigmodel_cli", "train", str(MLP), "--run-dir", str(run_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size,
        env={**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 1, result.stderr
    line = one_error_line(result)
    assert f"cannot write {run_dir / 'checkpoints' / 'epoch-0001.keras'}: File too large" in line
    assert ".tmp-" not in result.stderr
    assert [path for path in run_dir.rglob(".*")] == []


@pytest.mark.parametrize("failing, number", [
    ("os.replace", errno.ENOSPC), ("tempfile.mkstemp", errno.EROFS),
    ("os.fsync", errno.EIO)])
def test_os_errors_of_a_write_name_the_users_file(tmp_path, monkeypatch, failing, number):
    def fail(*arguments, **options):
        raise OSError(number, os.strerror(number), str(tmp_path / ".x.tmp-secret"))

    monkeypatch.setattr(failing, fail)
    target = tmp_path / "results.json"
    with pytest.raises(RunError) as raised:
        atomic.write_text(target, "{}")
    message = str(raised.value)
    assert message.startswith(f"cannot write {target}: {os.strerror(number)}; ")
    assert "secret" not in message and len(message.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


# --- item 16: the umask --------------------------------------------------------------------------

def test_run_files_follow_the_umask(finished):
    modes = {path.relative_to(finished[0]).as_posix(): stat.S_IMODE(path.stat().st_mode)
             for path in finished[0].rglob("*")}
    wanted = {path: 0o777 & ~UMASK if (finished[0] / path).is_dir() else 0o666 & ~UMASK
              for path in modes}
    assert modes == wanted and "checkpoints/last.keras" in modes and "config.yaml" in modes
