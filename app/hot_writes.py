"""The lean path of the hot write: POST /feedback answered before FastAPI's middleware,
routing, dependencies, request and response objects (the service's ASGI entry,
app.main.Service, offers it each request after the hot reads).

Only the common, unambiguous shape is answered here: POST to exactly ``/feedback`` without a
query string, a JSON body (``content-type: application/json``) whose ``content-length`` is
within the body limit, the right X-API-Key where one is set, a bundle loaded, and a body the
route's own model (``FeedbackEvent`` or a list of them) validates. The work is the route's
(app.posting.post_events), the answer the same bytes and headers, counted in the metrics under
the route's label. Everything else — a malformed body, a missing key, no bundle — falls
through to the FastAPI route with the body replayed, which validates, answers or refuses as
before; so every error body is FastAPI's. An error the work itself raises (an id or rating
this catalogue does not take, the store unavailable) is answered as the service's handler
answers it: its status and ``{"detail": message}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from app.deps import check_key
from app.errors import ServiceError, Unauthorized
from app.limits import replaying
from app.metrics import record_request
from app.posting import post_events
from app.schemas import FeedbackEvent

Receive = Callable[[], Awaitable[dict[str, Any]]]
PATH, ROUTE = "/feedback", "/feedback"
#: bodies above this are left to the route (a batch of many events gains nothing here)
MAX_LEAN_BODY = 64 << 10
_BODY: TypeAdapter[FeedbackEvent | list[FeedbackEvent]] = TypeAdapter(
    FeedbackEvent | list[FeedbackEvent])  # type: ignore[arg-type, unused-ignore]


class HotFeedback:
    """Answers POST /feedback of ``service`` (a FastAPI app whose state holds the model, the
    settings and the feedback store) when it can; see the module's docstring."""

    def __init__(self, service: Any) -> None:
        self.service = service

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive,
                       send: Any) -> Receive | None:
        """None when the request was answered here; otherwise the ``receive`` the app must
        read the request with (the body replayed when it was read here)."""
        if scope["method"] != "POST" or scope["path"] != PATH or scope.get("query_string"):
            return receive
        started = time.perf_counter()
        state = self.service.state
        settings = state.settings
        length = self._length(scope, settings)
        if length is None or not self._authorised(scope, settings):
            return receive
        bundle = state.model.bundle
        if bundle is None:
            return receive
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            body += message.get("body", b"")
            if len(body) > length:
                return replaying(bytes(body), receive,
                                 more=bool(message.get("more_body", False)))
            if not message.get("more_body", False):
                break
        try:
            events = _BODY.validate_json(bytes(body))
        except ValidationError:
            return replaying(bytes(body), receive)
        try:
            status, content = await post_events(events, bundle, settings, state.feedback)
        except ServiceError as exc:
            status, content = exc.status, {"detail": str(exc)}
        await JSONResponse(content, status_code=status)(scope, receive, send)  # as the route
        record_request(ROUTE, "POST", status, time.perf_counter() - started)
        return None

    @staticmethod
    def _length(scope: Mapping[str, Any], settings: Any) -> int | None:
        """The body's announced length when it is a JSON body the lean path takes."""
        length = content_type = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                return None
        if content_type is None or content_type.split(b";")[0].strip().lower() != (
                b"application/json"):
            return None
        if length is None or not length.isdigit():
            return None
        size = int(length)
        return size if 0 < size <= min(MAX_LEAN_BODY, settings.max_body_bytes) else None

    @staticmethod
    def _authorised(scope: Mapping[str, Any], settings: Any) -> bool:
        """The route's own key check (app.deps.check_key) on the X-API-Key header."""
        given = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                      if name == b"x-api-key"), None)
        try:
            check_key(settings, given)
        except Unauthorized:
            return False
        return True
