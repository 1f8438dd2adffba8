"""Recommendation routes: a user's list (GET /recommend, a hot route) and a visitor's (POST)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import ranking
from app.deps import (
    BundleDep,
    SettingsDep,
    get_bundle,
    get_feedback,
    get_settings,
    openapi_parameters,
    parameters,
)
from app.errors import InvalidRequest
from app.schemas import (
    AnonymousRequest,
    ErrorBody,
    Recommendations,
    RecommendKeyQuery,
    RecommendQuery,
    json_response,
)

router = APIRouter(tags=["recommendations"])


def _demographics(age: int | None, gender: str | None, occupation: str | None
                  ) -> dict[str, str | float]:
    """The MovieLens fields a request gave, as user features by name."""
    given = {"age": age, "gender": gender.upper() if gender else None, "occupation": occupation}
    return {name: value for name, value in given.items() if value is not None}


def _split(text: str | None) -> list[str] | None:
    return [part for part in text.split(",") if part.strip()] if text else None


@router.get("/recommend/{user_id}", response_model=Recommendations,
            responses={422: {"model": ErrorBody}, 503: {"model": ErrorBody}},
            openapi_extra=openapi_parameters(RecommendQuery, path=("user_id",),
                                             keys=RecommendKeyQuery))
async def recommend_for_user(request: Request) -> Response:
    """Every movie scored for a user; movies they rated (in training or through POST
    /feedback since) are left out, and their fresh likes feed the model's history input at
    once. Users the model has never seen get `history` recommendations from their posted likes,
    or `cold_start` ones shaped by `age`/`gender`/`occupation`."""
    query = parameters(RecommendQuery, request, RecommendKeyQuery)
    bundle, settings = await get_bundle(request), await get_settings(request)
    store = await get_feedback(request)
    key = str(query.user_id)
    events = await store.history(key) if store.has_events(key) else ()
    excluded: list[int | str] = [x.strip() if bundle.string_ids else int(x)
                                 for x in _split(query.exclude) or []]
    codes = bundle.feature_codes(_demographics(query.age, query.gender, query.occupation),
                                 "query")
    return json_response(ranking.for_user(
        bundle, query.user_id, min(query.k or settings.default_k, settings.max_k),
        genres=_split(query.genres), exclude=excluded, codes=codes, events=events,
        offset=query.offset, new=query.only_new,
    ))


@router.post("/recommend", response_model=Recommendations,
             responses={400: {"model": ErrorBody, "description": "body is not JSON"},
                        413: {"model": ErrorBody, "description": "body too large"},
                        422: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def recommend_for_visitor(body: AnonymousRequest, bundle: BundleDep,
                                settings: SettingsDep) -> Response:
    """Recommendations for an anonymous visitor from the movies they liked (the model's
    history path). Ids the model does not know come back in `unknown_movie_ids`."""
    if len(body.liked) > settings.max_liked:
        raise InvalidRequest(f"`liked` holds {len(body.liked)} ids; at most "
                             f"{settings.max_liked}")
    bundle.check_ids(body.liked, "liked")
    bundle.check_ids(body.exclude or [], "exclude")
    given = _demographics(body.age, body.gender, body.occupation)
    twice = sorted(set(given) & set(body.features or {}))
    if twice:
        raise InvalidRequest(f"`features.{twice[0]}`: also given as the field `{twice[0]}`")
    codes = bundle.feature_codes({**given, **(body.features or {})}, "features")
    return json_response(ranking.for_visitor(
        bundle, body.liked, min(body.k or settings.default_k, settings.max_k), codes=codes,
        genres=body.genres, exclude=body.exclude, offset=body.offset, new=body.only_new,
    ))
