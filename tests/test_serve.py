"""bigmodel serve: TensorFlow Serving's REST shapes, predict's rows for predict's inputs, a
status and one line for each kind of bad request, batching under concurrency, and a real
server process on a loopback port that stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from cli_runner import REPO, bigmodel
from trained_runs import trained_run

from bigmodel_cli.predict import inference, serve, serve_model
from bigmodel_cli.predict.serve_batching import Batcher

IRIS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    return trained_run(tmp_path_factory, "mlp")


@pytest.fixture(scope="module")
def served(mlp_run):
    return serve_model.load(mlp_run, None)


def client_for(model, **limits):
    from starlette.testclient import TestClient

    return TestClient(serve.create_app(model, serve.Limits(**limits)))


@pytest.fixture(scope="module")
def client(served):
    with client_for(served, max_body=20_000, max_instances=8) as test_client:
        yield test_client


def assert_same_rows(got: list[dict], want: list[dict]) -> None:
    """The same classes in the same order, with the same probabilities."""
    assert len(got) == len(want)
    for got_row, want_row in zip(got, want, strict=True):
        assert [g["class"] for g in got_row["top"]] == [g["class"] for g in want_row["top"]]
        np.testing.assert_allclose([g["probability"] for g in got_row["top"]],
                                   [g["probability"] for g in want_row["top"]], atol=1e-6)


def test_rest_shapes_answer_as_tensorflow_serving(client, served, mlp_run, tmp_path):
    name = served.name
    assert name == "smoke_mlp"
    status = client.get(f"/v1/models/{name}").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    assert client.get(f"/v1/models/{name}/versions/1").status_code == 200
    metadata = client.get(f"/v1/models/{name}/metadata").json()
    assert metadata["metadata"]["signature_def"]["serving_default"]["inputs"] == [
        {"name": "inputs", "dtype": "float32", "shape": [-1, 4]}]
    assert metadata["metadata"]["class_names"] == ["setosa", "versicolor", "virginica"]
    assert client.get("/healthz").json() == {"status": "ok"}

    rows = client.post(f"/v1/models/{name}:predict", json={"instances": IRIS}).json()
    # The same rows as bigmodel predict on the same examples (it labels each with its input).
    np.save(tmp_path / "iris.npy", np.array(IRIS, dtype=np.float32))
    expected = inference.predict(mlp_run, [str(tmp_path / "iris.npy")], top_k=3)
    assert len(rows["predictions"]) == 3
    assert_same_rows(rows["predictions"], expected)

    columnar = client.post(f"/v1/models/{name}/versions/1:predict",
                           json={"inputs": {"inputs": IRIS}, "top_k": 1}).json()
    assert [row["top"][0]["class"] for row in columnar["outputs"]] == \
        [row["top"][0]["class"] for row in rows["predictions"]]
    assert all(len(row["top"]) == 1 for row in columnar["outputs"])
    metrics = client.get("/metrics").text
    assert 'bigmodel_requests_total{route="/v1/models:predict",status="200"}' in metrics
    assert "bigmodel_predict_latency_seconds_count" in metrics


BAD = [
    (b"{not json", 400, r"malformed JSON body"),
    (b"[1, 2]", 400, r'a JSON object with "instances"'),
    (b'{"instances": []}', 400, r'"instances" must be a non-empty list'),
    (b'{"instances": [[1, 2, 3]]}', 400, r"instances\[0\]: shape \(3,\), but the model takes "
                                         r"one example of shape \(4,\)"),
    (b'{"instances": [[1, 2, 3, 4], [1, [2], 3, 4]]}', 400, r"instances\[1\]: not a list of "
                                                          r"numbers"),
    (b'{"instances": ["a", "b"]}', 400, r"instances\[0\]: a str, but this model takes lists "
                                        r"of numbers"),
    (b'{"instances": [[1, 2, 3, NaN]]}', 400, r"instances\[0\] holds nan at index \[3\]"),
    (json.dumps({"instances": IRIS * 3}).encode(), 400, r"9 instances in one request; at "
                                                        r"most 8"),
    (b'{"instances": [[1, 2, 3, 4]], "top_k": 0}', 400, r'"top_k" must be'),
    (b'{"instances": [[1, 2, 3, 4]], "signature_name": "x"}', 400, r"no signature 'x'"),
    (b"[" * 5000 + b"]" * 5000, 400, r"malformed JSON body \(nested too deeply\)"),
    (json.dumps({"instances": [[1.0] * 4] * 2000}).encode(), 413, r"over the limit of 20,000"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD)
def test_each_bad_request_gets_its_status_and_one_line(client, body, status, message):
    answer = client.post("/v1/models/smoke_mlp:predict", content=body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert "\n" not in error
    assert re.search(message, error), error


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("POST", "/v1/models/other:predict", 404, "no model 'other'; this server serves "
                                              "'smoke_mlp'"),
    ("GET", "/v1/models/other", 404, "no model 'other'"),
    ("POST", "/v1/models/smoke_mlp/versions/7:predict", 404, "has no version 7"),
    ("GET", "/v1/models/smoke_mlp:predict", 405, "predict is POST"),
    ("GET", "/v1/models/smoke_mlp/a/b/c", 404, "no such path"),
])
def test_unknown_models_versions_and_paths(client, method, path, status, message):
    answer = client.request(method, path, content=b'{"instances": [[1, 2, 3, 4]]}')
    assert answer.status_code == status
    assert message in answer.json()["error"]


def test_500_malformed_requests_in_a_row_then_a_correct_answer(client):
    good = client.post("/v1/models/smoke_mlp:predict", json={"instances": IRIS[:1]}).json()
    bodies = [body for body, _, _ in BAD[:7]]
    for index in range(500):
        answer = client.post("/v1/models/smoke_mlp:predict", content=bodies[index % 7])
        assert answer.status_code == 400
    assert client.post("/v1/models/smoke_mlp:predict",
                       json={"instances": IRIS[:1]}).json() == good


def test_concurrent_requests_are_batched_into_one_model_call(served):
    # No idle gap: on a busy machine 8 threads may come more than 1 ms apart.
    with client_for(served, max_batch=64, batch_timeout=0.2, batch_idle=0) as test_client:
        def one(index):
            body = {"instances": [IRIS[index % 3]]}
            return test_client.post("/v1/models/smoke_mlp:predict", json=body).json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(16)))
        metrics = test_client.get("/metrics").text
    largest = int(next(line.split()[1] for line in metrics.splitlines()
                       if line.startswith("bigmodel_batch_size_max")))
    assert largest > 1, metrics
    # Each request got its own row back: equal inputs, equal answers.
    for index, answer in enumerate(answers):
        assert answer == answers[index % 3]


def test_the_batcher_splits_rows_back_and_runs_oversized_requests_alone():
    sizes = []

    async def scenario():
        batcher = Batcher(lambda batch: batch * 10, max_batch=4, timeout=0.05,
                          observe=sizes.append)
        batcher.start()
        requests = [np.full((size, 1), index, dtype=float)
                    for index, size in enumerate([1, 2, 6, 1])]
        answers = await asyncio.gather(*(batcher.predict(batch, len(batch))
                                         for batch in requests))
        await batcher.stop()
        return requests, answers

    requests, answers = asyncio.run(scenario())
    for request, answer in zip(requests, answers, strict=True):
        np.testing.assert_array_equal(answer, request * 10)
    assert sizes == [3, 6, 1]  # 1 + 2 together; 6 > max_batch alone; then the last one


def test_a_batch_closes_when_requests_stop_coming_not_at_the_timeout():
    sizes = []

    async def scenario(timeout, **idle):
        # Room for 32: three requests that came together, then a fourth 0.2 s later.
        batcher = Batcher(lambda batch: batch, max_batch=32, timeout=timeout,
                          observe=sizes.append, **idle)
        batcher.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        together = asyncio.gather(*(batcher.predict(np.ones((1, 1)), 1) for _ in range(3)))
        await asyncio.sleep(0.2)
        later = await batcher.predict(np.ones((1, 1)), 1)
        await together
        seconds = loop.time() - started
        await batcher.stop()
        return seconds, later

    # The default idle gap: the three do not wait out the 2 s timeout, the fourth comes alone.
    seconds, later = asyncio.run(scenario(2.0))
    assert sizes == [3, 1] and later.shape == (1, 1)
    assert seconds < 1.0
    # idle 0: the first waits the whole timeout, so the fourth joins it.
    sizes.clear()
    seconds, _ = asyncio.run(scenario(0.5, idle=0))
    assert sizes == [4] and seconds >= 0.5


def test_images_as_pixels_or_base64_bytes_give_the_same_rows(tmp_path_factory):
    import tensorflow as tf

    model = serve_model.load(trained_run(tmp_path_factory, "cnn"), None)
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 1)).astype(np.uint8)
    png = base64.b64encode(tf.io.encode_png(pixels).numpy()).decode()
    with client_for(model) as test_client:
        url = f"/v1/models/{model.name}:predict"
        as_list = test_client.post(url, json={"instances": [pixels.tolist()]}).json()
        as_bytes = test_client.post(url, json={"instances": [{"b64": png}]}).json()
        broken = test_client.post(url, json={"instances": [{"b64": "aGVsbG8="}]})
    assert as_list == as_bytes
    assert broken.status_code == 400 and "cannot read the image" in broken.json()["error"]


def test_an_export_serves_the_same_rows_as_its_run_for_csv_rows(tmp_path_factory, tmp_path):
    from bigmodel_cli.predict import export as exporter

    run_dir = trained_run(tmp_path_factory, "table")
    exporter.export(run_dir, ["saved_model"], tmp_path / "table", "best", "none", False, False,
                    lambda line: None)
    rows = [{"age": 31, "city": "oslo", "note": "likes tea a lot"},
            {"age": "44", "city": "nowhere", "note": ""}]
    answers = []
    for source in (run_dir, tmp_path / "table"):
        model = serve_model.load(source, "people")
        with client_for(model) as test_client:
            answers.append(test_client.post("/v1/models/people:predict",
                                            json={"instances": rows}).json())
            columnar = test_client.post("/v1/models/people:predict", json={"inputs": {
                name: [row[name] for row in rows] for name in rows[0]}}).json()
            missing = test_client.post("/v1/models/people:predict",
                                       json={"instances": [{"age": 3}]})
        assert columnar["outputs"] == answers[-1]["predictions"]
        assert missing.status_code == 400
        assert "instances[0]: no column 'city', 'note'" in missing.json()["error"]
    assert model.kind == "saved_model"
    assert serve_model.load(tmp_path / "table", None).name == "table"  # the run's name
    for by_run, by_export in zip(answers[0]["predictions"], answers[1]["predictions"],
                                 strict=True):
        assert [g["class"] for g in by_run["top"]] == [g["class"] for g in by_export["top"]]
        np.testing.assert_allclose([g["probability"] for g in by_run["top"]],
                                   [g["probability"] for g in by_export["top"]], atol=1e-6)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(run_dir, *options: str) -> tuple[subprocess.Popen, str]:
    """`bigmodel serve RUN --name iris` as a real process on a free loopback port, once its
    /healthz answers: (the process, its base URL). Stop it with `stop_server`."""
    import httpx

    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bigmodel_cli", "serve", str(run_dir), "--port", str(port),
         "--name", "iris", *options], cwd=REPO, env=environment, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up in 120 s"
            time.sleep(0.25)
    except BaseException:
        stop_server(process)
        raise


def stop_server(process: subprocess.Popen) -> str:
    """SIGTERM, then wait for the exit; its stderr."""
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)[1]


def test_a_real_server_process_answers_and_stops_on_sigterm(mlp_run, served):
    import httpx

    process, url = start_server(mlp_run)
    try:
        answer = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": IRIS},
                            timeout=30)
        assert answer.status_code == 200
        with client_for(served) as test_client:
            in_process = test_client.post("/v1/models/smoke_mlp:predict",
                                          json={"instances": IRIS}).json()
        assert answer.json() == in_process
    finally:
        stderr = stop_server(process)
    port = url.rsplit(":", 1)[1]
    assert process.returncode == 0, stderr
    assert "; 1 process;" in stderr
    assert f"on http://127.0.0.1:{port}/v1/models/iris:predict" in stderr
    assert "stopped on SIGTERM, after the requests in flight" in stderr


def test_healthz_answers_while_a_batch_is_still_in_the_model(served):
    """The model call runs in a worker thread: the event loop keeps answering meanwhile."""
    import dataclasses
    import threading

    started, release = threading.Event(), threading.Event()

    def slow(batch):
        started.set()
        release.wait(30)  # held until /healthz has answered (or the test gives up)
        return served.call(batch)

    slow_model = dataclasses.replace(served, call=slow, lock=threading.Lock())
    with client_for(slow_model) as test_client, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(test_client.post, "/v1/models/smoke_mlp:predict",
                              json={"instances": IRIS[:1]})
        assert started.wait(30), "the model was never called"
        health = test_client.get("/healthz")
        still_running = not pending.done()
        release.set()
        answer = pending.result(timeout=30)
    assert health.json() == {"status": "ok"}
    assert still_running  # /healthz answered while the batch was held in the model
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1


def test_a_batch_that_cannot_be_joined_fails_its_requests_and_not_the_batcher():
    async def scenario():
        batcher = Batcher(lambda batch: batch, max_batch=8, timeout=0.05)
        batcher.start()
        uneven = await asyncio.wait_for(asyncio.gather(
            batcher.predict(np.zeros((1, 2)), 1), batcher.predict(np.zeros((1, 3)), 1),
            return_exceptions=True), 10)  # without the fix these never answered
        after = await asyncio.wait_for(batcher.predict(np.ones((1, 2)), 1), 10)
        await batcher.stop()
        return uneven, after

    uneven, after = asyncio.run(scenario())
    assert all(isinstance(result, ValueError) for result in uneven), uneven
    np.testing.assert_array_equal(after, np.ones((1, 2)))


@pytest.mark.slow  # three processes, two loading TensorFlow: 37-52 s on 2 busy cores
def test_two_worker_processes_answer_predicts_rows_and_stop_on_sigterm(mlp_run, tmp_path):
    """--workers 2: two processes on one port, each with its own model, both answering."""
    import httpx

    np.save(tmp_path / "iris.npy", np.array(IRIS, dtype=np.float32))
    expected = inference.predict(mlp_run, [str(tmp_path / "iris.npy")], top_k=3)
    process, url = start_server(mlp_run, "--workers", "2")
    answers: dict[str, list] = {}  # worker pid -> its answers

    def one(_):
        answer = httpx.post(f"{url}/v1/models/iris:predict", json={"instances": IRIS},
                            timeout=30)
        return answer.headers["x-bigmodel-worker"], answer.status_code, answer.json()

    try:
        # The first worker answers /healthz while the second may still load its model; the
        # system hands each new connection to one of the processes accepting on the socket.
        deadline = time.monotonic() + 90
        with ThreadPoolExecutor(4) as pool:
            while len(answers) < 2 and time.monotonic() < deadline:
                for pid, status, body in pool.map(one, range(8)):
                    assert status == 200, body
                    answers.setdefault(pid, []).append(body["predictions"])
        metrics = {httpx.get(f"{url}/metrics").text for _ in range(4)}
    finally:
        stderr = stop_server(process)
    assert process.returncode == 0, stderr
    assert len(answers) == 2, f"only worker {list(answers)} answered in 90 s"
    for rows in (rows for each in answers.values() for rows in each):
        assert_same_rows(rows, expected)
    assert "; 2 worker processes, each with its own copy of the model" in stderr
    # The two that answered are the two workers that loaded a model, not the parent.
    assert set(answers) == set(re.findall(r"worker (\d+): model loaded", stderr)), stderr
    assert "stopped on SIGTERM, after each worker's requests in flight" in stderr
    assert all('workers="2"' in text for text in metrics)


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_is_a_one_line_usage_error(mlp_run, workers):
    result = bigmodel("serve", mlp_run, "--workers", workers)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: invalid value for '--workers': input should be "
                                     "greater than or equal to 1 (see 'bigmodel serve --help')")


@pytest.mark.slow  # two workers import TensorFlow: 26-32 s on 2 busy cores
def test_workers_that_cannot_load_the_model_stop_the_server_with_their_error(mlp_run, tmp_path):
    import shutil

    damaged = shutil.copytree(mlp_run, tmp_path / "damaged")
    for checkpoint in (damaged / "checkpoints").glob("*.keras"):
        checkpoint.write_bytes(b"junk")
    result = bigmodel("serve", damaged, "--workers", "2", "--port", str(free_port()),
                      timeout=180)
    assert result.returncode == 1, result.stderr
    assert re.search(r"error: worker \d+: no readable checkpoint", result.stderr)
    assert result.stderr.strip().endswith(
        "error: a worker process could not load the model (its error is above); bigmodel "
        "serve stopped")
