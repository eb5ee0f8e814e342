"""The server's counters, in Prometheus' text format (GET /metrics).

Requests and errors by route and status, a latency histogram of predict requests, and a
histogram of the batch sizes the model was called with (batching at work shows as sizes > 1).
With `serve --workers N` each worker process keeps its own counters and a scrape reaches one
of them (bigmodel_worker_info names which): they are per worker, not the server's totals.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import Counter

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Histogram:
    def __init__(self, buckets: tuple):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        lines, cumulative = [], 0
        for bound, count in zip((*self.buckets, "+Inf"), self.counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{{labels}le="{bound}"}} {cumulative}')
        tail = f"{{{labels.rstrip(',')}}}" if labels else ""
        return lines + [f"{name}_sum{tail} {self.total:.6f}", f"{name}_count{tail} {self.count}"]


class Metrics:
    def __init__(self, model: str, workers: int = 1):
        self.model, self.workers, self.pid = model, workers, os.getpid()
        self.lock = threading.Lock()
        self.requests: Counter = Counter()  # (route, status) -> count
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch_sizes = Histogram(BATCH_BUCKETS)
        self.largest_batch = 0

    def request(self, route: str, status: int, seconds: float | None = None) -> None:
        with self.lock:
            self.requests[(route, status)] += 1
            if seconds is not None:
                self.latency.observe(seconds)

    def batch(self, size: int) -> None:
        with self.lock:
            self.batch_sizes.observe(size)
            self.largest_batch = max(self.largest_batch, size)

    def text(self) -> str:
        with self.lock:
            lines = ["# HELP bigmodel_requests_total HTTP requests by route and status.",
                     "# TYPE bigmodel_requests_total counter"]
            lines += [f'bigmodel_requests_total{{route="{route}",status="{status}"}} {count}'
                      for (route, status), count in sorted(self.requests.items())]
            errors = sum(count for (_, status), count in self.requests.items() if status >= 400)
            lines += ["# HELP bigmodel_errors_total Requests answered with a 4xx or 5xx status.",
                      "# TYPE bigmodel_errors_total counter", f"bigmodel_errors_total {errors}",
                      "# HELP bigmodel_predict_latency_seconds Time to answer a predict request.",
                      "# TYPE bigmodel_predict_latency_seconds histogram",
                      *self.latency.lines("bigmodel_predict_latency_seconds"),
                      "# HELP bigmodel_batch_size Examples per model call.",
                      "# TYPE bigmodel_batch_size histogram",
                      *self.batch_sizes.lines("bigmodel_batch_size"),
                      "# HELP bigmodel_batch_size_max The largest batch so far.",
                      "# TYPE bigmodel_batch_size_max gauge",
                      f"bigmodel_batch_size_max {self.largest_batch}",
                      "# HELP bigmodel_worker_info The process that answered; with more than "
                      "one worker, every figure here counts that worker's requests only.",
                      "# TYPE bigmodel_worker_info gauge",
                      f'bigmodel_worker_info{{pid="{self.pid}",workers="{self.workers}"}} 1']
        return "\n".join(lines) + "\n"
