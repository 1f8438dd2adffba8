"""The lean path of the two hottest reads: GET /recommend/{user_id} and GET /similar/{movie_id}
answered before FastAPI's middleware, routing, request and response objects (the service's
ASGI entry, app.main.Service, asks here first).

Only the common, unambiguous shape is answered here: a canonical decimal id (any id of at
most 256 characters for a catalogue with string ids), and a query
string of at most ``k`` and ``offset`` as canonical decimals in range, each once; for
/recommend a user without posted feedback (their events need the store). Everything else —
filters, demographics, a malformed or out-of-range value, an unknown movie, no bundle loaded —
falls through to the FastAPI route, which validates, answers or refuses as before; so every
error body is FastAPI's. What is answered here is byte for byte what the route answers: the
same ranking functions (app.ranking) write the same bytes, with the same headers
(``content-type: application/json`` and ``content-length``), counted in the metrics under the
route's label.

Answers are kept, pre-rendered, per bundle: a known user's list depends only on the bundle,
``k``, ``offset`` and the context (daytime bucket, weekend), a movie's neighbours only on the
bundle, ``k`` and ``offset``. Up to ANSWER_CACHE_BYTES of them, least recently used out first;
a list whose context changed while it was computed is not kept.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from app import ranking
from app.errors import ServiceError
from app.inputs import context_now
from app.metrics import record_request
from app.schemas import MAX_ID, MAX_K, MAX_OFFSET
from recommender_core.bundle_format import MAX_KEY_LENGTH

RECOMMEND, SIMILAR = "/recommend/", "/similar/"
ROUTES = {RECOMMEND: "/recommend/{user_id}", SIMILAR: "/similar/{movie_id}"}
ANSWER_CACHE_BYTES = 32 << 20  # pre-rendered answers kept per process

Key = tuple[str, int | str, int | None, int, int, int]


def _canonical(text: str, low: int, high: int) -> int | None:
    """``text`` as an int when it is a plain decimal (no sign, space or leading zero) in
    ``low..high``; otherwise None."""
    if not text or len(text) > 10 or not text.isascii() or not text.isdigit():
        return None
    if len(text) > 1 and text[0] == "0":
        return None
    value = int(text)
    return value if low <= value <= high else None


def _query(raw: bytes) -> tuple[int | None, int] | None:
    """(k or None, offset) of a query string of at most ``k`` and ``offset``, or None."""
    k, offset, seen = None, 0, set()
    if not raw:
        return k, offset
    for part in raw.decode("latin-1").split("&"):
        name, equals, value = part.partition("=")
        if not equals or name in seen:
            return None
        seen.add(name)
        if name == "k":
            k = _canonical(value, 1, MAX_K)
            if k is None:
                return None
        elif name == "offset":
            number = _canonical(value, 0, MAX_OFFSET)
            if number is None:
                return None
            offset = number
        else:
            return None
    return k, offset


class HotReads:
    """Answers the hot reads of ``service`` (a FastAPI app whose state holds the model, the
    settings and the feedback store) when it can; see the module's docstring."""

    def __init__(self, service: Any, cache_bytes: int = ANSWER_CACHE_BYTES) -> None:
        self.service = service
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[Key, bytes] = OrderedDict()
        self._cached_bytes = 0
        # the bundle the cache holds answers of (weakly: a replaced bundle is not kept alive)
        self._bundle: weakref.ref[Any] | None = None

    async def __call__(self, scope: Mapping[str, Any], send: Any) -> bool:
        """Answer ``scope`` (an HTTP request) and return True, or return False untouched."""
        if scope["method"] != "GET":
            return False
        started = time.perf_counter()
        found = self.answer(scope)
        if found is None:
            return False
        body, route = found
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        record_request(route, "GET", 200, time.perf_counter() - started)
        return True

    def answer(self, scope: Mapping[str, Any]) -> tuple[bytes, str] | None:
        """(body, route label) of the request, or None to let the route answer it."""
        path: str = scope["path"]
        if path.startswith(RECOMMEND):
            prefix = RECOMMEND
        elif path.startswith(SIMILAR):
            prefix = SIMILAR
        else:
            return None
        state = self.service.state
        bundle = state.model.bundle
        if bundle is None:
            return None
        segment = path[len(prefix):]
        identifier: int | str | None = (
            (segment if 0 < len(segment) <= MAX_KEY_LENGTH and "/" not in segment else None)
            if bundle.string_ids else _canonical(segment, 1, MAX_ID))
        query = _query(scope.get("query_string", b""))
        if identifier is None or query is None:
            return None
        if self._bundle is None or self._bundle() is not bundle:
            self._cache.clear()
            self._cached_bytes = 0
            self._bundle = weakref.ref(bundle)
        settings = state.settings
        k = min(query[0] or settings.default_k, settings.max_k)
        offset = query[1]
        if prefix is RECOMMEND and state.feedback.has_events(segment):  # the id's text
            return None
        context = context_now(bundle) if prefix is RECOMMEND else (0, 0)
        key: Key = (prefix, identifier, k, offset, *context)
        body = self._cache.get(key)
        if body is not None:
            self._cache.move_to_end(key)
            return body, ROUTES[prefix]
        try:
            if prefix is RECOMMEND:
                body = ranking.for_user(bundle, identifier, k, genres=None, exclude=[],
                                        codes={}, offset=offset)
                if context_now(bundle) != context:  # computed across a context boundary: not kept
                    return body, ROUTES[prefix]
            else:
                body = ranking.similar(bundle, identifier, k, offset)
        except ServiceError:
            return None  # e.g. an unknown movie: the route says so
        self._keep(key, body)
        return body, ROUTES[prefix]

    def _keep(self, key: Key, body: bytes) -> None:
        self._cache[key] = body
        self._cached_bytes += len(body)
        while self._cached_bytes > self.cache_bytes and self._cache:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= len(old)
