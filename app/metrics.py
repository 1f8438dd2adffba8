"""Prometheus metrics: request counts and latency per route, the live model version, and the
feedback store (events by outcome, latency per operation, up)."""

from __future__ import annotations

import time
from typing import Any

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
FEEDBACK_EVENTS = Counter("recommender_feedback_events_total", "feedback events posted",
                          ["outcome"], registry=REGISTRY)  # stored, duplicate, rejected
STORE_SECONDS = Histogram("recommender_feedback_store_seconds", "feedback store latency",
                          ["operation"], registry=REGISTRY,
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5, 1, 2.5, 5))
FEEDBACK_STORE_UP = Gauge("recommender_feedback_store_up", "1 when the feedback store answered "
                          "its last call", registry=REGISTRY)


METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def set_model_version(version: str) -> None:
    MODEL.clear()
    MODEL.labels(version=version).set(1)


class MetricsMiddleware:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

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
            key = (route, method, status[0])
            children = self.children.get(key)
            if children is None:  # labels() takes a lock and builds a tuple key every call
                children = (REQUESTS.labels(route, method, str(status[0])),
                            LATENCY.labels(route))
                self.children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
