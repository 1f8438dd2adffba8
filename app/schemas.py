"""Request and response bodies (the OpenAPI schema at /docs is generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Response
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)

from recommender_core.bundle_format import MAX_KEY_LENGTH

MAX_LIKED = 1000  # the most ids `liked` may hold (MAX_LIKED in the settings can lower it)


def _json_integer(value: object) -> object:
    """JSON Schema's integer: 5 and 5.0 are, `true` and "5" are not (pydantic's lax mode
    would take both; its strict mode would refuse 5.0)."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be an integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def _json_number(value: object) -> object:
    """JSON Schema's number: 4 and 4.5 are, `true` and "4.5" are not."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a number")
    return value


JsonNumber = Annotated[float, BeforeValidator(_json_number)]

MAX_ID = 2_147_483_647
#: a string id of a catalogue of the generic layout (docs/data-format.md)
Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)]
#: an id in a body: an integer (MovieLens bundles) or a string (catalogues with string ids);
#: a list of ids to look up takes any integer (one out of range is just unknown)
AnyId = JsonInt | Key
StoredId = Annotated[JsonInt, Field(ge=1, le=MAX_ID), WithJsonSchema(
    {"type": "integer", "minimum": 1, "maximum": MAX_ID})] | Key
#: an id in a response: the catalogue's own, a number or a string
OutId = int | str
ID_HELP = ("the catalogue's id: a positive integer for MovieLens bundles, the string id as "
           "given for catalogues with string ids (docs/data-format.md)")


def json_response(body: bytes) -> Response:
    """A body already serialised (app.render); the route's response_model documents it."""
    return Response(body, media_type="application/json")


class ScoredMovie(BaseModel):
    movie_id: OutId
    title: str
    genres: list[str]
    score: float


class Recommendations(BaseModel):
    user_id: OutId | None = Field(None, description="null for an anonymous visitor")
    model_version: str
    strategy: Literal["personalized", "cold_start", "history"]
    items: list[ScoredMovie]
    unknown_movie_ids: list[OutId] = Field(default_factory=list,
                                         description="ids in `liked` the model does not know")


MAX_OFFSET = 10_000
MAX_K = 1000  # the most movies one answer holds (MAX_K in the settings can lower it)
OFFSET_HELP = ("skip this many of the best (paging: offset=10&k=10 is the second page); pages "
               "of one bundle and feedback state never overlap")
NEW_HELP = "new arrivals only: movies nobody rated in the training data"


class RecommendQuery(BaseModel):
    """Path and query parameters of GET /recommend/{user_id}, validated in one pass."""

    user_id: int = Field(ge=1, le=MAX_ID, description="the dataset's user id")
    k: int | None = Field(None, ge=1, le=MAX_K, description="how many movies (default 10)")
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
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description=OFFSET_HELP)
    only_new: bool = Field(False, description=NEW_HELP)


class RecommendKeyQuery(RecommendQuery):
    """RecommendQuery of a catalogue with string ids."""

    user_id: Key = Field(description=ID_HELP)  # type: ignore[assignment]
    exclude: str | None = Field(None, max_length=3000,
                                description="ids to leave out, comma-separated (POST takes "
                                "longer lists and ids holding commas)")


#: a visitor's user features by name (a string, or a number for a numeric feature)
FeatureName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
FeatureValue = Annotated[str, StringConstraints(max_length=100)] | JsonNumber


class AnonymousRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    liked: list[AnyId] = Field(..., description="movie ids the visitor liked, oldest first",
                               max_length=MAX_LIKED)
    age: JsonInt | None = Field(None, ge=1, le=120)
    gender: Literal["M", "F"] | None = None
    occupation: str | None = Field(None, max_length=100)
    features: dict[FeatureName, FeatureValue] | None = Field(
        None, max_length=50, description="user features by name, as the catalogue's users have "
        "them (MovieLens: age, gender, occupation, also given as the fields above; a generic "
        "catalogue: the columns of its users.csv); a number for a numeric feature",
        examples=[{"country": "NZ", "age": 31}])
    k: JsonInt | None = Field(None, ge=1, le=MAX_K)
    genres: list[str] | None = Field(None, max_length=50)
    exclude: list[AnyId] | None = Field(None, max_length=10_000)
    offset: JsonInt = Field(0, ge=0, le=MAX_OFFSET, description=OFFSET_HELP)
    only_new: StrictBool = Field(False, description=NEW_HELP)


class SimilarQuery(BaseModel):
    """Path and query parameters of GET /similar/{movie_id}, validated in one pass."""

    movie_id: int = Field(ge=1, le=MAX_ID, description="the dataset's movie id")
    k: int | None = Field(None, ge=1, le=MAX_K, description="how many movies (default 10)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description=OFFSET_HELP)


class SimilarKeyQuery(SimilarQuery):
    """SimilarQuery of a catalogue with string ids."""

    movie_id: Key = Field(description=ID_HELP)  # type: ignore[assignment]


class SimilarMovies(BaseModel):
    movie_id: OutId
    title: str
    model_version: str
    items: list[ScoredMovie]


class Movie(BaseModel):
    movie_id: OutId
    title: str
    genres: list[str]
    year: int | None
    cold: bool = Field(description="no ratings in the training data")


class MoviePath(BaseModel):
    movie_id: int = Field(ge=1, le=MAX_ID)


class MovieKeyPath(BaseModel):
    """MoviePath of a catalogue with string ids."""

    movie_id: Key = Field(description=ID_HELP)


class Genres(BaseModel):
    genres: list[str] = Field(description="every genre of the live bundle's movies")


class MovieSearch(BaseModel):
    query: str
    total: int
    items: list[Movie]


MAX_FEEDBACK_BATCH = 10_000  # FEEDBACK_MAX_BATCH (default 1000) may only lower it
LATEST_TIMESTAMP = 4_102_444_800  # 2100-01-01


class FeedbackEvent(BaseModel):
    """One rating a user gave a movie."""

    model_config = ConfigDict(extra="forbid")

    user_id: StoredId = Field(description="the dataset's user id, or a new one (" + ID_HELP
                              + ")")
    movie_id: StoredId = Field(description=ID_HELP)
    rating: JsonNumber = Field(ge=-100, le=100,
                               description="on the catalogue's scale: 0.5 to 5.0 in half stars "
                               "for MovieLens bundles, the `catalogue.rating_scale` of the "
                               "manifest for other explicit catalogues, 0 or more for implicit "
                               "ones; at or above the data's like threshold (manifest "
                               "dataset.like_threshold) it is a like")
    timestamp: JsonInt | None = Field(None, ge=0, le=LATEST_TIMESTAMP,
                                      description="Unix seconds; default: when it arrived")
    event_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                                 description="the client's idempotency key: an event_id "
                                 "stored once is never stored again")


class EventOutcome(BaseModel):
    user_id: OutId
    movie_id: OutId
    rating: float
    timestamp: int
    event_id: str | None
    status: Literal["stored", "duplicate", "rejected"]
    liked: bool = Field(description="rating at or above the like threshold")
    reason: str | None = Field(None, description="why a rejected event was not stored")


class FeedbackReceipt(BaseModel):
    stored: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events whose event_id was already stored")
    rejected: int = Field(description="events not stored (reason per event)")
    events: list[EventOutcome] = Field(description="one per posted event, in order")


class StoredFeedback(BaseModel):
    movie_id: OutId
    rating: float
    timestamp: int
    event_id: str | None
    received_at: float


class FeedbackPage(BaseModel):
    user_id: OutId
    total: int
    offset: int
    limit: int
    items: list[StoredFeedback] = Field(description="newest first")


class UserPath(BaseModel):
    user_id: int = Field(ge=1, le=MAX_ID)


class UserKeyPath(BaseModel):
    """UserPath of a catalogue with string ids."""

    user_id: Key = Field(description=ID_HELP)


class FeedbackPageQuery(UserPath):
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(100, ge=1, le=1000)


class FeedbackPageKeyQuery(UserKeyPath):
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(100, ge=1, le=1000)


class Erased(BaseModel):
    user_id: OutId
    deleted: int = Field(description="events erased")


class FeedbackStatus(BaseModel):
    store: str = Field(description="the store's URL without password")
    backend: str
    ok: bool
    error: str | None
    users: int | None = Field(description="users with feedback (null until the store answered)")


class UserProfile(BaseModel):
    user_id: OutId
    known: bool = Field(description="the live bundle was trained with this user's ratings")
    ratings_in_training: int
    liked_in_training: list[Movie] = Field(description="their most recent training likes "
                                           "(the model's history input), newest first")
    feedback_events: int | None = Field(description="events stored since (null when the "
                                        "store is unavailable)")


class Health(BaseModel):
    status: Literal["ok"]
    version: str = Field(description="the recommender's package version")


class Readiness(BaseModel):
    ready: bool
    model_version: str | None
    reason: str | None = None
    feedback: FeedbackStatus | None = Field(None, description="not ok: recommendations are "
                                            "served from the bundle alone (degraded)")


class ErrorBody(BaseModel):
    detail: Any


class ReloadResult(BaseModel):
    reloaded: bool
    model_version: str
    previous_version: str | None
