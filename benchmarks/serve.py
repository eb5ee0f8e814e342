"""bigmodel serve under load: batching on against batching off, from a bounded client.

    python benchmarks/serve.py                          # trains the smoke CNN and transformer
    python benchmarks/serve.py --runs runs/smoke_cnn --requests 2000 --clients 16
    python benchmarks/serve.py --runs runs/smoke_cnn --workers 1 2 --predict-inputs 0

For each run and each mode, `bigmodel serve` starts on a free loopback port; `--clients`
concurrent clients (asyncio streams, one keep-alive connection each) send `--requests`
predict requests of one instance each (after a short warm-up that is not timed), drawn with a
fixed seed from random inputs of the model's kind, and the table gives requests/s, latency
percentiles, errors (which must be 0) and the server's CPU time per request (all its
processes, from /proc: other work on the machine hardly moves it, unlike requests/s).
Batching on is `--max-batch 32 --batch-timeout-ms 5` (the defaults); off is `--max-batch 1`.
`--workers 1 2` measures each mode with each number of server processes.

A second table sets `bigmodel predict` against the server on the same `--predict-inputs`
inputs (1,000; 0 skips it): predict once on all of them in one file (.npy, or .txt for text)
and once on the first alone (its start-up: Python, TensorFlow, the model), start to exit; the
server (batching on, one process) from start to its first /healthz, then the same inputs as
one request each from the clients, with the share of top-1 classes on which the two agree.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from serve_client import MODES, _bodies, _cpu_seconds, _drive, _instances, _percentile, serving

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", type=Path,
                        help="run directories (default: train the smoke cnn and transformer)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="server processes (bigmodel serve --workers); each is measured")
    parser.add_argument("--predict-inputs", type=int, default=1000,
                        help="inputs for bigmodel predict against the server (0: skip)")
    arguments = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        runs = arguments.runs or [_train(name, Path(scratch)) for name in ("cnn", "transformer")]
        print(f"{'run':<20} {'workers':>7} {'batching':<9} {'req/s':>8} {'p50 ms':>8} "
              f"{'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'max batch':>9} {'cpu ms/req':>10}")
        for run in runs:
            for workers in arguments.workers:
                for mode, options in MODES.items():
                    result = _measure(run, [*options, "--workers", str(workers)], arguments)
                    print(f"{run.name:<20} {workers:>7} {mode:<9} {result['rps']:>8.1f} "
                          f"{result['p50']:>8.1f} {result['p95']:>8.1f} {result['p99']:>8.1f} "
                          f"{result['errors']:>7} {result['max_batch']:>9} "
                          f"{result['cpu_ms']:>10.2f}", flush=True)
        if arguments.predict_inputs:
            from serve_predict import against_predict

            against_predict(runs, arguments, Path(scratch))
        print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


def _train(family: str, scratch: Path) -> Path:
    run = scratch / f"smoke_{family}"
    subprocess.run([sys.executable, "-m", "bigmodel_cli", "train",
                    str(REPO / "configs" / "smoke" / f"{family}.yaml"), "--run-dir", str(run)],
                   cwd=REPO, check=True, capture_output=True)
    return run


def _measure(run: Path, options: list[str], arguments) -> dict:
    import httpx

    with serving(run, options) as (url, _, pid):
        bodies = _bodies(_instances(httpx, url, arguments.requests, arguments.seed))
        asyncio.run(_drive(url, bodies[: arguments.clients * 2], arguments.clients))
        cpu = _cpu_seconds(pid)
        latencies, errors, seconds, _ = asyncio.run(_drive(url, bodies, arguments.clients))
        cpu = _cpu_seconds(pid) - cpu
        metrics = httpx.get(f"{url}/metrics").text
    latencies.sort()
    # With several workers this is the largest batch of the one that answered /metrics.
    largest = next(line.split()[1] for line in metrics.splitlines()
                   if line.startswith("bigmodel_batch_size_max"))
    return {"rps": len(bodies) / seconds, "errors": errors, "max_batch": largest,
            "cpu_ms": 1000 * cpu / len(bodies),
            **{f"p{q}": 1000 * _percentile(latencies, q / 100) for q in (50, 95, 99)}}


if __name__ == "__main__":
    main()
