"""The physical floor of this stack: a bare ASGI app under uvicorn that answers every request
with one pre-encoded body, the trivial app's 10-movie list (uvicorn benchmarks.bare_app:app)."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.trivial_app import ITEMS

BODY = json.dumps({"user_id": 1, "model_version": "constant", "strategy": "personalized",
                   "items": ITEMS}, separators=(",", ":")).encode()
START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-length", str(len(BODY)).encode()),
                     (b"content-type", b"application/json")]}
MESSAGE = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(START)
    await send(MESSAGE)
