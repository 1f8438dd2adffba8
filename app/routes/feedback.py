"""Real-time feedback: ratings posted here change that user's next recommendations at once."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from app.deps import (
    BundleDep,
    FeedbackDep,
    ReadKey,
    SettingsDep,
    WriteKey,
    client_id,
    openapi_parameters,
    string_ids,
    validated,
)
from app.errors import InvalidRequest
from app.metrics import FEEDBACK_EVENTS
from app.schemas import (
    MAX_FEEDBACK_BATCH,
    Erased,
    ErrorBody,
    EventOutcome,
    FeedbackEvent,
    FeedbackPage,
    FeedbackPageKeyQuery,
    FeedbackPageQuery,
    FeedbackReceipt,
    StoredFeedback,
    UserKeyPath,
    UserPath,
)
from recommender_core.feedback_store import Event

router = APIRouter(tags=["feedback"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "API_KEY is set and X-API-Key is wrong"},
    422: {"model": ErrorBody},
    503: {"model": ErrorBody, "description": "the feedback store is unavailable"}}


@router.post("/feedback", response_model=FeedbackReceipt, status_code=201,
             dependencies=[WriteKey],
             responses={200: {"model": FeedbackReceipt,
                              "description": "nothing new stored (duplicates or rejected)"},
                        400: {"model": ErrorBody, "description": "body is not JSON"},
                        413: {"model": ErrorBody, "description": "body too large"}, **ERRORS})
async def post_feedback(body: FeedbackEvent | list[FeedbackEvent], bundle: BundleDep,
                        settings: SettingsDep, feedback: FeedbackDep) -> Response:
    """Store one rating event or a list of them. Events for movies the live model does not
    know are rejected one by one (`status: rejected`, with the reason); the others are stored
    in one transaction. 201 when something new was stored, 200 when nothing was (every event
    a duplicate `event_id` or rejected)."""
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
    return JSONResponse(receipt.model_dump(), status_code=201 if counts["stored"] else 200)


def _shown(value: int | str) -> str:
    return repr(value) if isinstance(value, str) else str(value)


@router.get("/users/{user_id}/feedback", response_model=FeedbackPage, dependencies=[ReadKey],
            responses=ERRORS,
            openapi_extra=openapi_parameters(FeedbackPageQuery, path=("user_id",),
                                             keys=FeedbackPageKeyQuery))
async def list_feedback(query: Annotated[FeedbackPageQuery,
                                         Depends(validated(FeedbackPageQuery,
                                                           FeedbackPageKeyQuery))],
                        feedback: FeedbackDep, request: Request) -> FeedbackPage:
    """The user's stored events, newest first, `limit` at a time from `offset`."""
    total, page = await feedback.page(str(query.user_id), query.offset, query.limit)
    strings = string_ids(request)
    return FeedbackPage(user_id=query.user_id, total=total, offset=query.offset,
                        limit=query.limit, items=[
                            StoredFeedback(movie_id=client_id(e.movie_id, strings),
                                           rating=e.rating,
                                           timestamp=e.timestamp, event_id=e.event_id,
                                           received_at=e.received_at) for e in page])


@router.delete("/users/{user_id}/feedback", response_model=Erased, dependencies=[WriteKey],
               responses=ERRORS,
               openapi_extra=openapi_parameters(UserPath, path=("user_id",), keys=UserKeyPath))
async def erase_feedback(query: Annotated[UserPath, Depends(validated(UserPath, UserKeyPath))],
                         feedback: FeedbackDep) -> Erased:
    """Erase every stored event of the user; their next recommendations no longer use them.
    (Their event_ids are forgotten too: posting one again stores it again.)"""
    return Erased(user_id=query.user_id, deleted=await feedback.erase(str(query.user_id)))
