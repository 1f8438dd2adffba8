"""Prometheus metrics: request counts and latency per route, and the live model version."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
REQUESTS = Counter("recommender_requests_total", "HTTP requests", ["route", "method", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("recommender_request_seconds", "request latency", ["route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                    registry=REGISTRY)
MODEL = Gauge("recommender_model_info", "the bundle being served (value 1)", ["version"],
              registry=REGISTRY)
RELOADS = Counter("recommender_reloads_total", "bundle loads", ["outcome"], registry=REGISTRY)


def set_model_version(version: str) -> None:
    MODEL.clear()
    MODEL.labels(version=version).set(1)


async def record(request: Request,
                 call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    name = getattr(route, "path", "unmatched")
    REQUESTS.labels(name, request.method, str(response.status_code)).inc()
    LATENCY.labels(name).observe(time.perf_counter() - start)
    return response
