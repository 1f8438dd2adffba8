"""Movie routes: nearest movies (GET /similar, a hot route), search, one movie, the genres."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response

from app import ranking
from app.bundle import Bundle
from app.deps import (
    BundleDep,
    get_bundle,
    get_settings,
    openapi_parameters,
    parameters,
    validated,
)
from app.errors import UnknownMovie
from app.schemas import (
    ErrorBody,
    Genres,
    Movie,
    MovieKeyPath,
    MoviePath,
    MovieSearch,
    SimilarKeyQuery,
    SimilarMovies,
    SimilarQuery,
    json_response,
)

router = APIRouter(tags=["movies"])


@router.get("/similar/{movie_id}", response_model=SimilarMovies,
            responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
            openapi_extra=openapi_parameters(SimilarQuery, path=("movie_id",),
                                             keys=SimilarKeyQuery))
async def similar_movies(request: Request) -> Response:
    """Nearest movies by the blend of content and collaborative cosine (FAISS)."""
    query = parameters(SimilarQuery, request, SimilarKeyQuery)
    bundle, settings = await get_bundle(request), await get_settings(request)
    k = min(query.k or settings.default_k, settings.max_k)
    return json_response(ranking.similar(bundle, query.movie_id, k, query.offset))


def movie_of(bundle: Bundle, index: int) -> Movie:
    record = bundle.catalogue.movies[index]
    return Movie(movie_id=record["movie_id"], title=record["title"], genres=record["genres"],
                 year=record["year"], cold=bool(bundle.catalogue.unrated[index]))


@router.get("/movies", response_model=MovieSearch)
async def search_movies(bundle: BundleDep,
                        search: Annotated[str, Query(min_length=1, max_length=200)],
                        limit: Annotated[int, Query(ge=1, le=100)] = 20) -> MovieSearch:
    """Movies whose title contains `search` (case-insensitive), most popular first."""
    catalogue = bundle.catalogue
    order = catalogue.popularity_order
    found = order[np.isin(order, catalogue.movies.search(search.casefold()))]
    return MovieSearch(query=search, total=len(found),
                       items=[movie_of(bundle, i) for i in found[:limit].tolist()])


@router.get("/genres", response_model=Genres, responses={503: {"model": ErrorBody}})
async def genres(bundle: BundleDep) -> Genres:
    """The genres `genres=` filters by (case-insensitive)."""
    return Genres(genres=bundle.catalogue.genres)


@router.get("/movies/{movie_id}", response_model=Movie,
            responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
            openapi_extra=openapi_parameters(MoviePath, path=("movie_id",), keys=MovieKeyPath))
async def get_movie(query: Annotated[MoviePath, Depends(validated(MoviePath, MovieKeyPath))],
                    bundle: BundleDep) -> Movie:
    index = bundle.catalogue.position.get(str(query.movie_id))
    if index is None:
        raise UnknownMovie(query.movie_id)
    return movie_of(bundle, index)
