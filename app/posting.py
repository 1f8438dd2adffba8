"""POST /feedback's work, shared by the route (app.routes.feedback) and the lean path
(app.hot_writes): the events checked against the live bundle, those of known movies stored in
one transaction, and the receipt."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from app.bundle import Bundle
from app.errors import InvalidRequest
from app.events import FeedbackEvents
from app.metrics import FEEDBACK_EVENTS
from app.schemas import MAX_FEEDBACK_BATCH, EventOutcome, FeedbackEvent, FeedbackReceipt
from app.settings import Settings
from recommender_core.feedback_store import Event


async def post_events(body: FeedbackEvent | list[FeedbackEvent], bundle: Bundle,
                      settings: Settings, feedback: FeedbackEvents) -> tuple[int, dict[str, Any]]:
    """(HTTP status, receipt) of storing ``body``: 201 when something new was stored, 200 when
    nothing was (every event a duplicate ``event_id`` or rejected); InvalidRequest for a
    batch out of bounds or an id or rating this catalogue does not take."""
    events = body if isinstance(body, list) else [body]
    limit = min(settings.feedback_max_batch, MAX_FEEDBACK_BATCH)
    if not events or len(events) > limit:
        raise InvalidRequest(f"a batch holds 1 to {limit} events; got {len(events)}")
    bundle.check_ids([item.user_id for item in events], "user_id")
    bundle.check_ids([item.movie_id for item in events], "movie_id")
    bundle.check_ratings([item.rating for item in events], "events")
    now = int(time.time())
    posted = [Event(str(item.user_id), str(item.movie_id), item.rating,
                    now if item.timestamp is None else item.timestamp, item.event_id)
              for item in events]
    known = [event.movie_id in bundle.catalogue.position for event in posted]
    accepted = [event for event, ok in zip(posted, known, strict=True) if ok]
    stored = iter(await feedback.add(accepted) if accepted else [])
    outcomes = [EventOutcome(
        **{**dataclasses.asdict(event), "user_id": item.user_id, "movie_id": item.movie_id},
        status=("stored" if next(stored) else "duplicate") if ok else "rejected",
        liked=event.rating >= bundle.like_threshold,
        reason=None if ok else f"unknown movie id {_shown(item.movie_id)} "
                               f"(model {bundle.version})")
        for item, event, ok in zip(events, posted, known, strict=True)]
    counts = {name: sum(o.status == name for o in outcomes)
              for name in ("stored", "duplicate", "rejected")}
    for name, count in counts.items():
        if count:
            FEEDBACK_EVENTS.labels(name).inc(count)
    receipt = FeedbackReceipt(stored=counts["stored"], duplicates=counts["duplicate"],
                              rejected=counts["rejected"], events=outcomes)
    return 201 if counts["stored"] else 200, receipt.model_dump()


def _shown(value: int | str) -> str:
    return repr(value) if isinstance(value, str) else str(value)
