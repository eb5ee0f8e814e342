"""The serve benchmark's parts shared by benchmarks/serve.py and serve_predict.py: a server
on a free loopback port, random instances of the model's kind, and clients that write HTTP on
bare asyncio streams (one keep-alive connection each), timing every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# This checkout's bigmodel_cli first, then whatever PYTHONPATH adds (e.g. httptools, uvloop).
ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
    str(REPO), os.environ.get("PYTHONPATH")]))}
MODES = {"on": ["--max-batch", "32", "--batch-timeout-ms", "5"], "off": ["--max-batch", "1"]}


@contextlib.contextmanager
def serving(run: Path, options: list[str]):
    """`bigmodel serve RUN --name bench OPTIONS` on a free loopback port, stopped on exit:
    (its URL, seconds from the start until every worker answers /healthz, its pid)."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "bigmodel_cli", "serve", str(run), "--port", str(port),
         "--name", "bench", *options], cwd=REPO, stderr=subprocess.PIPE,
        env=ENVIRONMENT)
    url = f"http://127.0.0.1:{port}"
    workers = int(options[options.index("--workers") + 1]) if "--workers" in options else 1
    try:
        _wait_until_up(httpx, url, server, workers)
        yield url, time.perf_counter() - started, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (the workers), from /proc:
    unlike requests/s, the server's CPU per request hardly moves when others load the cores."""
    tick, total, pending = os.sysconf("SC_CLK_TCK"), 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total


def _wait_until_up(httpx, url: str, server, workers: int) -> None:
    """Until `workers` distinct processes have answered /healthz (each new connection goes to
    one of them), so that no measurement starts while a worker still loads its model."""
    deadline, seen = time.monotonic() + 180, set()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read().decode()}")
        try:
            answer = httpx.get(f"{url}/healthz", timeout=1)
            seen.add(answer.headers.get("x-bigmodel-worker"))
            if len(seen) >= workers:
                return
            time.sleep(0.05)
        except httpx.TransportError:
            time.sleep(0.25)
    raise SystemExit(f"{workers - len(seen)} of {workers} workers did not come up in 180 s")


def _instances(httpx, url: str, count: int, seed: int) -> tuple[str, list]:
    """(input kind, random instances of the served model's input), fixed by `seed`."""
    import numpy as np

    metadata = httpx.get(f"{url}/v1/models/bench/metadata").json()["metadata"]
    (signature,) = metadata["signature_def"]["serving_default"]["inputs"]
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "film", "plot", "the", "a", "great", "dull", "music", "actor"]
    instances = []
    for _ in range(count):
        if metadata["input_kind"] == "text":
            instance = " ".join(rng.choice(words, size=8))
        elif metadata["input_kind"] == "image":
            instance = rng.integers(0, 256, signature["shape"][1:]).tolist()
        elif metadata["input_kind"] == "tokens":
            instance = rng.integers(1, 10, signature["shape"][1:]).tolist()
        else:
            instance = rng.normal(size=signature["shape"][1:]).round(3).tolist()
        instances.append(instance)
    return metadata["input_kind"], instances


def _bodies(described: tuple[str, list]) -> list[bytes]:
    """One predict request body per instance."""
    return [json.dumps({"instances": [instance]}).encode() for instance in described[1]]


async def _drive(url: str, bodies: list[bytes], clients: int):
    """`clients` keep-alive connections sending the bodies in turn: (latencies, errors,
    seconds, the answers' bodies in the order of `bodies`). The requests are written and read
    with bare asyncio streams, not httpx: httpx spends ~2 ms of CPU per request, more than the
    server does, so on a small machine it measured the client, not the server."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for index, body in enumerate(bodies):
        queue.put_nowait((index, body))
    latencies: list[float] = []
    answers: list[bytes | None] = [None] * len(bodies)
    errors = 0

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (f"POST /v1/models/bench:predict HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\nContent-Length: ").encode()
        try:
            while not queue.empty():
                index, body = queue.get_nowait()
                started = time.perf_counter()
                writer.write(head + b"%d\r\n\r\n" % len(body) + body)
                status, length = await _response_head(reader)
                answers[index] = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started, answers


async def _response_head(reader) -> tuple[int, int]:
    """(status, content length) of the next response on a keep-alive connection."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    return int(lines[0].split()[1]), length


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1] \
        if len(values) > 1 else values[0]

