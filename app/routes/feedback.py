"""Real-time feedback: ratings posted here change that user's next recommendations at once."""

from __future__ import annotations

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
from app.posting import post_events
from app.schemas import (
    Erased,
    ErrorBody,
    FeedbackEvent,
    FeedbackPage,
    FeedbackPageKeyQuery,
    FeedbackPageQuery,
    FeedbackReceipt,
    StoredFeedback,
    UserKeyPath,
    UserPath,
)

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
    status, receipt = await post_events(body, bundle, settings, feedback)
    return JSONResponse(receipt, status_code=status)


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
