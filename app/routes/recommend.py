from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from app import recommend
from app.deps import BundleDep, SettingsDep
from app.schemas import AnonymousRequest, ErrorBody, Recommendations, RecommendQuery, as_json

router = APIRouter(tags=["recommendations"])
ID = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _split(text: str | None) -> list[str] | None:
    return [part for part in text.split(",") if part.strip()] if text else None


@router.get("/recommend/{user_id}", response_model=Recommendations,
            responses={422: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def recommend_for_user(user_id: ID, query: Annotated[RecommendQuery, Query()],
                             bundle: BundleDep, settings: SettingsDep) -> Response:
    """Every movie scored for a user; movies they rated are left out. Users the model has
    never seen get `cold_start` recommendations, shaped by `age`/`gender`/`occupation`."""
    excluded = [int(x) for x in _split(query.exclude) or []]
    return as_json(recommend.for_user(
        bundle, user_id, min(query.k or settings.default_k, settings.max_k),
        genres=_split(query.genres), exclude=excluded, age=query.age,
        gender=query.gender.upper() if query.gender else None, occupation=query.occupation,
    ))


@router.post("/recommend", response_model=Recommendations,
             responses={422: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def recommend_for_visitor(body: AnonymousRequest, bundle: BundleDep,
                                settings: SettingsDep) -> Response:
    """Recommendations for an anonymous visitor from the movies they liked (the model's
    history path). Ids the model does not know come back in `unknown_movie_ids`."""
    if len(body.liked) > settings.max_liked:
        raise HTTPException(422, detail=f"`liked` holds {len(body.liked)} ids; at most "
                            f"{settings.max_liked}")
    return as_json(recommend.for_visitor(
        bundle, body.liked, min(body.k or settings.default_k, settings.max_k), age=body.age,
        gender=body.gender, occupation=body.occupation, genres=body.genres,
        exclude=body.exclude,
    ))
