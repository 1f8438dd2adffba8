"""Request and response bodies (the OpenAPI schema at /docs is generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_LIKED = 1000  # the most ids `liked` may hold (MAX_LIKED in the settings can lower it)


def _json_integer(value: object) -> object:
    """JSON Schema's integer: 5 and 5.0 are, `true` and "5" are not (pydantic's lax mode
    would take both; its strict mode would refuse 5.0)."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be an integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def json_response(body: bytes) -> Response:
    """A body already serialised (app.render); the route's response_model documents it."""
    return Response(body, media_type="application/json")


class ScoredMovie(BaseModel):
    movie_id: int
    title: str
    genres: list[str]
    score: float


class Recommendations(BaseModel):
    user_id: int | None = Field(None, description="null for an anonymous visitor")
    model_version: str
    strategy: Literal["personalized", "cold_start", "history"]
    items: list[ScoredMovie]
    unknown_movie_ids: list[int] = Field(default_factory=list,
                                         description="ids in `liked` the model does not know")


MAX_ID = 2_147_483_647


class RecommendQuery(BaseModel):
    """Path and query parameters of GET /recommend/{user_id}, validated in one pass."""

    user_id: int = Field(ge=1, le=MAX_ID, description="the dataset's user id")
    k: int | None = Field(None, ge=1, le=1000, description="how many movies (default 10)")
    genres: str | None = Field(None, max_length=500,
                               description="keep only these, e.g. Comedy,Drama")
    # Bounded so that even fully percent-encoded UTF-8 keeps the URL under uvicorn's ~64 KiB
    # request-line limit (past it the client gets a plain-text 400 from the HTTP parser).
    exclude: str | None = Field(None, max_length=3000,
                                pattern=r"^\s*\d{1,10}(\s*,\s*\d{1,10})*\s*$",
                                description="movie ids to leave out, e.g. 1,2,3 (POST takes "
                                "longer lists)")
    age: int | None = Field(None, ge=1, le=120, description="for users the model never saw")
    gender: str | None = Field(None, pattern="^[MFmf]$", description="M or F")
    occupation: str | None = Field(None, max_length=100)


class AnonymousRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    liked: list[JsonInt] = Field(..., description="movie ids the visitor liked, oldest first",
                             max_length=MAX_LIKED)
    age: JsonInt | None = Field(None, ge=1, le=120)
    gender: Literal["M", "F"] | None = None
    occupation: str | None = Field(None, max_length=100)
    k: JsonInt | None = Field(None, ge=1, le=1000)
    genres: list[str] | None = Field(None, max_length=50)
    exclude: list[JsonInt] | None = Field(None, max_length=10_000)


class SimilarQuery(BaseModel):
    """Path and query parameters of GET /similar/{movie_id}, validated in one pass."""

    movie_id: int = Field(ge=1, le=MAX_ID, description="the dataset's movie id")
    k: int | None = Field(None, ge=1, le=1000, description="how many movies (default 10)")


class SimilarMovies(BaseModel):
    movie_id: int
    title: str
    model_version: str
    items: list[ScoredMovie]


class Movie(BaseModel):
    movie_id: int
    title: str
    genres: list[str]
    year: int | None
    cold: bool = Field(description="no ratings in the training data")


class MovieSearch(BaseModel):
    query: str
    total: int
    items: list[Movie]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    model_version: str | None
    reason: str | None = None


class ErrorBody(BaseModel):
    detail: Any


class ReloadResult(BaseModel):
    reloaded: bool
    model_version: str
    previous_version: str | None
