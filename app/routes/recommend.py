from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app import recommend
from app.deps import ServingDep
from app.schemas import AnonymousRequest, ErrorBody, Recommendations, RecommendQuery, as_json

router = APIRouter(tags=["recommendations"])
ID = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _split(text: str | None) -> list[str] | None:
    return [part for part in text.split(",") if part.strip()] if text else None


def _query_parameters() -> list[dict[str, Any]]:
    """RecommendQuery's fields as OpenAPI query parameters (the route validates them itself)."""
    schema = RecommendQuery.model_json_schema()
    return [{"name": name, "in": "query", "required": False, "schema": field,
             "description": field.get("description", "")}
            for name, field in schema["properties"].items()]


@router.get("/recommend/{user_id}", response_model=Recommendations,
            responses={422: {"model": ErrorBody}, 503: {"model": ErrorBody}},
            openapi_extra={"parameters": _query_parameters()})
async def recommend_for_user(user_id: ID, request: Request, serving: ServingDep) -> Response:
    """Every movie scored for a user; movies they rated are left out. Users the model has
    never seen get `cold_start` recommendations, shaped by `age`/`gender`/`occupation`."""
    # One pydantic validation of the query string: FastAPI's per-parameter resolution of these
    # six optional parameters cost more than scoring the whole catalogue.
    try:
        query = RecommendQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]) from None
    bundle, settings = serving.bundle, serving.settings
    excluded = [int(x) for x in _split(query.exclude) or []]
    return as_json(recommend.for_user(
        bundle, user_id, min(query.k or settings.default_k, settings.max_k),
        genres=_split(query.genres), exclude=excluded, age=query.age,
        gender=query.gender.upper() if query.gender else None, occupation=query.occupation,
    ))


@router.post("/recommend", response_model=Recommendations,
             responses={400: {"model": ErrorBody, "description": "body is not JSON"},
                        413: {"model": ErrorBody, "description": "body too large"},
                        422: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def recommend_for_visitor(body: AnonymousRequest, serving: ServingDep) -> Response:
    """Recommendations for an anonymous visitor from the movies they liked (the model's
    history path). Ids the model does not know come back in `unknown_movie_ids`."""
    bundle, settings = serving.bundle, serving.settings
    if len(body.liked) > settings.max_liked:
        raise HTTPException(422, detail=f"`liked` holds {len(body.liked)} ids; at most "
                            f"{settings.max_liked}")
    return as_json(recommend.for_visitor(
        bundle, body.liked, min(body.k or settings.default_k, settings.max_k), age=body.age,
        gender=body.gender, occupation=body.occupation, genres=body.genres,
        exclude=body.exclude,
    ))
