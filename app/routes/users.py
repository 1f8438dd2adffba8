"""What the service knows of a user: their training likes and how much feedback they posted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.deps import BundleDep, FeedbackDep, openapi_parameters, validated
from app.errors import FeedbackUnavailable
from app.routes.movies import movie_of
from app.schemas import ErrorBody, UserKeyPath, UserPath, UserProfile

router = APIRouter(tags=["users"])


@router.get("/users/{user_id}", response_model=UserProfile,
            responses={422: {"model": ErrorBody}, 503: {"model": ErrorBody}},
            openapi_extra=openapi_parameters(UserPath, path=("user_id",), keys=UserKeyPath))
async def user_profile(query: Annotated[UserPath, Depends(validated(UserPath, UserKeyPath))],
                       bundle: BundleDep, feedback: FeedbackDep) -> UserProfile:
    """The user's most recent likes in the training data (the model's history input, newest
    first) and how many feedback events they have stored. An unknown user is not an error:
    `known` is false."""
    key = str(query.user_id)
    user = bundle.user_position.get(key)
    liked, rated = [], 0
    if user is not None:
        history = bundle.users.history[user]
        liked = [movie_of(bundle, int(code) - 1) for code in history[::-1] if code > 0]
        rated = len(bundle.seen(user))
    try:
        events: int | None = (await feedback.page(key, 0, 1))[0]
    except FeedbackUnavailable:
        events = None
    return UserProfile(user_id=query.user_id, known=user is not None,
                       ratings_in_training=rated, liked_in_training=liked,
                       feedback_events=events)
