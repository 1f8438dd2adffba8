"""The recommendation service: `MODEL_DIR=models uvicorn app.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import faiss
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from app.errors import BundleError, ServiceError
from app.events import FeedbackEvents
from app.hot import HotReads
from app.hot_writes import HotFeedback
from app.limits import BodySizeLimit
from app.metrics import MetricsMiddleware
from app.routes import feedback, movies, ops, page, recommend, users
from app.settings import Settings, get_settings
from app.state import ModelState
from recommender_core import __version__
from recommender_core.feedback_store import FeedbackStore

log = logging.getLogger("app")


ROUTERS = (recommend, feedback, users, movies, ops, page)


class Service(FastAPI):
    """The FastAPI app, whose ASGI entry first offers each HTTP request to the lean paths of
    the hot reads (app.hot) and of POST /feedback (app.hot_writes); what they do not answer
    goes through FastAPI as usual."""

    hot: HotReads
    hot_feedback: HotFeedback

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if await self.hot(scope, send):
                return
            receive = await self.hot_feedback(scope, receive, send)
            if receive is None:
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Scoring is small per request: one BLAS thread per process keeps concurrent requests
        # from fighting over cores (multithreaded OpenBLAS collapses under load).
        threadpool_limits(1)
        faiss.omp_set_num_threads(1)
        state = ModelState(settings)
        app.state.model = state
        with contextlib.suppress(BundleError):  # /ready says why; the watcher tries again
            await state.reload()
        watcher = (asyncio.create_task(state.watch(settings.watch_interval))
                   if settings.watch_interval > 0 else None)
        store = FeedbackStore(settings.feedback_url,
                              max_per_user=settings.feedback_max_per_user)
        app.state.feedback = FeedbackEvents(store)
        # The first poll learns which users have feedback; until then (or while the store is
        # out of reach) recommendations come from the bundle alone.
        poller = asyncio.create_task(app.state.feedback.watch(settings.feedback_poll))
        yield
        for task in (watcher, poller):
            if task is not None:
                task.cancel()
        await asyncio.to_thread(store.close)

    app = Service(title="MovieLens hybrid recommender", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.hot = HotReads(app)
    app.hot_feedback = HotFeedback(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        # Starlette's Allow names the methods of the first route on the path only; one path
        # can have several (GET and DELETE /users/{id}/feedback).
        # (the routers' own routes: FastAPI 0.16x no longer lists included routes flat)
        allowed = sorted({method for module in ROUTERS for route in module.router.routes
                          if isinstance(route, APIRoute)
                          and route.path_regex.match(request.url.path)
                          for method in route.methods or ()})
        return JSONResponse({"detail": exc.detail}, status_code=405,
                            headers={"Allow": ", ".join(allowed)})

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app


app = create_app()
