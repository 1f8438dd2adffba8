"""Request and response bodies (the OpenAPI schema at /docs is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field


def as_json(body: BaseModel) -> Response:
    """Serialise once: a route that returns a Response skips FastAPI's second validation pass
    (the route's response_model still documents the shape)."""
    return Response(body.model_dump_json(), media_type="application/json")


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


class RecommendQuery(BaseModel):
    """Query parameters of GET /recommend/{user_id} (one model: validated in one pass)."""

    k: int | None = Field(None, ge=1, le=1000, description="how many movies (default 10)")
    genres: str | None = Field(None, max_length=500,
                               description="keep only these, e.g. Comedy,Drama")
    exclude: str | None = Field(None, max_length=20_000, pattern=r"^\s*\d+(\s*,\s*\d+)*\s*$",
                                description="movie ids to leave out, e.g. 1,2,3")
    age: int | None = Field(None, ge=1, le=120, description="for users the model never saw")
    gender: str | None = Field(None, pattern="^[MFmf]$", description="M or F")
    occupation: str | None = Field(None, max_length=100)


class AnonymousRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    liked: list[int] = Field(..., description="movie ids the visitor liked, oldest first",
                             max_length=10_000)
    age: int | None = Field(None, ge=1, le=120)
    gender: Literal["M", "F"] | None = None
    occupation: str | None = Field(None, max_length=100)
    k: int | None = Field(None, ge=1, le=1000)
    genres: list[str] | None = Field(None, max_length=50)
    exclude: list[int] | None = Field(None, max_length=10_000)


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
