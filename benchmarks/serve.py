"""bigmodel serve under load: batching on against batching off, from a bounded client.

    python benchmarks/serve.py                          # trains the smoke CNN and transformer
    python benchmarks/serve.py --runs runs/smoke_cnn --requests 2000 --clients 16

For each run and each mode, `bigmodel serve` starts on a free loopback port; `--clients`
concurrent clients (asyncio streams, one keep-alive connection each) send `--requests`
predict requests of one instance each (after a short warm-up that is not timed), drawn with a
fixed seed from random inputs of the model's kind, and the table gives requests/s, latency
percentiles and errors (which must be 0). Batching on is `--max-batch 32 --batch-timeout-ms 5`
(the defaults); off is `--max-batch 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODES = {"on": ["--max-batch", "32", "--batch-timeout-ms", "5"], "off": ["--max-batch", "1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", type=Path,
                        help="run directories (default: train the smoke cnn and transformer)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        runs = arguments.runs or [_train(name, Path(scratch)) for name in ("cnn", "transformer")]
        print(f"{'run':<20} {'batching':<9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'p99 ms':>8} {'errors':>7} {'max batch':>9}")
        for run in runs:
            for mode, options in MODES.items():
                result = _measure(run, options, arguments)
                print(f"{run.name:<20} {mode:<9} {result['rps']:>8.1f} {result['p50']:>8.1f} "
                      f"{result['p95']:>8.1f} {result['p99']:>8.1f} {result['errors']:>7} "
                      f"{result['max_batch']:>9}", flush=True)


def _train(family: str, scratch: Path) -> Path:
    run = scratch / f"smoke_{family}"
    subprocess.run([sys.executable, "-m", "bigmodel_cli", "train",
                    str(REPO / "configs" / "smoke" / f"{family}.yaml"), "--run-dir", str(run)],
                   cwd=REPO, check=True, capture_output=True)
    return run


def _measure(run: Path, options: list[str], arguments) -> dict:
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bigmodel_cli", "serve", str(run), "--port", str(port),
         "--name", "bench", *options], cwd=REPO, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(httpx, url, server)
        bodies = _bodies(httpx, url, arguments.requests, arguments.seed)
        asyncio.run(_drive(httpx, url, bodies[: arguments.clients * 2], arguments.clients))
        latencies, errors, seconds = asyncio.run(_drive(httpx, url, bodies, arguments.clients))
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    latencies.sort()
    largest = next(line.split()[1] for line in metrics.splitlines()
                   if line.startswith("bigmodel_batch_size_max"))
    return {"rps": len(bodies) / seconds, "errors": errors, "max_batch": largest,
            **{f"p{q}": 1000 * _percentile(latencies, q / 100) for q in (50, 95, 99)}}


def _wait_until_up(httpx, url: str, server) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read().decode()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.25)
    raise SystemExit("the server did not come up in 180 s")


def _bodies(httpx, url: str, count: int, seed: int) -> list[bytes]:
    """Random instances of the served model's input kind, one per request, fixed by `seed`."""
    import numpy as np

    metadata = httpx.get(f"{url}/v1/models/bench/metadata").json()["metadata"]
    (signature,) = metadata["signature_def"]["serving_default"]["inputs"]
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "film", "plot", "the", "a", "great", "dull", "music", "actor"]
    bodies = []
    for _ in range(count):
        if metadata["input_kind"] == "text":
            instance = " ".join(rng.choice(words, size=8))
        elif metadata["input_kind"] == "image":
            instance = rng.integers(0, 256, signature["shape"][1:]).tolist()
        elif metadata["input_kind"] == "tokens":
            instance = rng.integers(1, 10, signature["shape"][1:]).tolist()
        else:
            instance = rng.normal(size=signature["shape"][1:]).round(3).tolist()
        bodies.append(json.dumps({"instances": [instance]}).encode())
    return bodies


async def _drive(httpx, url: str, bodies: list[bytes], clients: int):
    """`clients` keep-alive connections sending the bodies in turn. The requests are written
    and read with bare asyncio streams, not httpx: httpx spends ~2 ms of CPU per request, more
    than the server does, so on a small machine it measured the client, not the server."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (f"POST /v1/models/bench:predict HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\nContent-Length: ").encode()
        try:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                writer.write(head + b"%d\r\n\r\n" % len(body) + body)
                status, length = await _response_head(reader)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


async def _response_head(reader) -> tuple[int, int]:
    """(status, content length) of the next response on a keep-alive connection."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    return int(lines[0].split()[1]), length


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1] \
        if len(values) > 1 else values[0]


if __name__ == "__main__":
    main()
