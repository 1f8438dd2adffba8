"""Prometheus metrics: request counts and latency per route, the live model version, bundle
loads, two-stage retrieval's calibration, and the feedback store (events by outcome, latency
per operation, up).

With ``WORKERS`` above 1, ``python -m app`` sets PROMETHEUS_MULTIPROC_DIR before the workers
start, so every worker writes its values to files there and GET /metrics (exposition) reports
the sum over all workers: counters and histograms added up, gauges per worker (``pid`` label)
or their minimum or maximum, as each gauge's ``multiprocess_mode`` says."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.bundle import Bundle
from app.retrieval import ShortlistRetrieval

REGISTRY = CollectorRegistry()
REQUESTS = Counter("recommender_requests_total", "HTTP requests", ["route", "method", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("recommender_request_seconds", "request latency", ["route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                    registry=REGISTRY)
MODEL = Gauge("recommender_model_info", "the bundle being served (value 1; with several "
              "workers, one series per worker process)", ["version"], registry=REGISTRY,
              multiprocess_mode="liveall")
RELOADS = Counter("recommender_reloads_total", "bundle loads", ["outcome"], registry=REGISTRY)
SHORTLIST_NPROBE = Gauge("recommender_shortlist_nprobe", "two-stage /recommend: the IVF lists "
                         "searched, chosen at load (0: every movie scored exactly)",
                         registry=REGISTRY, multiprocess_mode="livemax")
SHORTLIST_RECALL = Gauge("recommender_shortlist_recall", "two-stage /recommend: recall@10 of "
                         "the shortlist against exact scoring at that effort, on sample users "
                         "at load (1 when every movie is scored exactly)", registry=REGISTRY,
                         multiprocess_mode="livemin")
FEEDBACK_EVENTS = Counter("recommender_feedback_events_total", "feedback events posted",
                          ["outcome"], registry=REGISTRY)  # stored, duplicate, rejected
STORE_SECONDS = Histogram("recommender_feedback_store_seconds", "feedback store latency",
                          ["operation"], registry=REGISTRY,
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5, 1, 2.5, 5))
FEEDBACK_STORE_UP = Gauge("recommender_feedback_store_up", "1 when the feedback store answered "
                          "its last call (every worker's, with several)", registry=REGISTRY,
                          multiprocess_mode="livemin")


METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


_served: list[str] = []  # the version MODEL shows, if any


def record_load(bundle: Bundle) -> None:
    """A bundle now served, whether at start-up, by the watcher or by /admin/reload."""
    RELOADS.labels("loaded").inc()
    for previous in _served:  # 0 first: a worker's file keeps a series that remove() drops
        MODEL.labels(version=previous).set(0)
        MODEL.remove(previous)
    _served[:] = [bundle.version]
    MODEL.labels(version=bundle.version).set(1)
    retrieval = bundle.retrieval
    if isinstance(retrieval, ShortlistRetrieval):
        SHORTLIST_NPROBE.set(retrieval.shortlister.nprobe)
        SHORTLIST_RECALL.set(retrieval.recall.get(retrieval.shortlister.nprobe, 1.0))
    else:  # every movie scored: exact
        SHORTLIST_NPROBE.set(0)
        SHORTLIST_RECALL.set(1.0)


def record_refused() -> None:
    RELOADS.labels("refused").inc()


_WORKER_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


def exposition() -> tuple[bytes, str]:
    """GET /metrics's body and content type: this process's metrics, or every worker's when
    PROMETHEUS_MULTIPROC_DIR is set (the gauges of workers that died are dropped first)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    for file in Path(folder).glob("gauge_live*.db"):
        match = _WORKER_FILE.match(file.name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), folder)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one request and its latency (the label children are kept: ``labels()`` takes a
    lock and builds a tuple key every call)."""
    key = (route, method, status)
    children = _children.get(key)
    if children is None:
        children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route))
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)


class MetricsMiddleware:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_with_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in METHODS else "OTHER"  # bounded labels
            record_request(route, method, status[0], time.perf_counter() - start)
