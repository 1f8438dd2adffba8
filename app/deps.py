"""Typed dependencies of the routes. All `async def` and none nested in another: a plain `def`
dependency runs in the threadpool (a thread hop per request), and every dependency level costs
FastAPI a parameter-resolution pass.

The two hottest routes (GET /recommend/{user_id}, GET /similar/{movie_id}) take only the
`Request` and call `serving` and `parameters` below: FastAPI's dependency and parameter
resolution cost them more than ranking the whole catalogue. `parameters` validates path and
query in one pydantic pass and raises the same 422 FastAPI would; `openapi_parameters`
documents them."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.bundle import Bundle
from app.errors import Unauthorized
from app.feedback import Feedback
from app.settings import Settings
from app.state import ModelState


@dataclass(frozen=True)
class Serving:
    """What a scoring route needs: the bundle it uses from start to end (even if a reload swaps
    in another meanwhile) and the settings."""

    bundle: Bundle
    settings: Settings


def _loaded(state: ModelState) -> Bundle:
    if state.bundle is None:
        raise HTTPException(503, detail=f"no model loaded: {state.last_error}")
    return state.bundle


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_state(request: Request) -> ModelState:
    return request.app.state.model


async def get_bundle(request: Request) -> Bundle:
    return _loaded(request.app.state.model)


def serving(request: Request) -> Serving:
    """The bundle and settings of this request (also called directly by the hot routes)."""
    return Serving(_loaded(request.app.state.model), request.app.state.settings)


async def get_serving(request: Request) -> Serving:
    return serving(request)


def feedback(request: Request) -> Feedback:
    """The service's feedback store (also called directly by GET /recommend/{user_id})."""
    store: Feedback = request.app.state.feedback
    return store


async def get_feedback(request: Request) -> Feedback:
    return feedback(request)


def _check_key(settings: Settings, given: str | None) -> None:
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    if not hmac.compare_digest((given or "").encode(), expected):  # constant time
        raise Unauthorized("missing or wrong X-API-Key")


async def write_key(request: Request,
                    x_api_key: Annotated[str | None, Header(max_length=1000)] = None) -> None:
    """Writes need X-API-Key when API_KEY is set."""
    _check_key(request.app.state.settings, x_api_key)


async def read_key(request: Request,
                   x_api_key: Annotated[str | None, Header(max_length=1000)] = None) -> None:
    """Reads of stored feedback need X-API-Key when API_KEY is set and API_KEY_FOR_READS."""
    settings: Settings = request.app.state.settings
    if settings.api_key_for_reads:
        _check_key(settings, x_api_key)


Params = TypeVar("Params", bound=BaseModel)


def parameters(model: type[Params], request: Request) -> Params:
    """Path and query parameters validated by ``model`` in one pass; errors as FastAPI's 422."""
    path = request.path_params
    try:
        return model.model_validate({**request.query_params, **path})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("path" if error["loc"][0] in path else "query", *error["loc"])}
             for error in exc.errors()]) from None


def openapi_parameters(model: type[BaseModel], path: tuple[str, ...]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model``'s fields as path (``path``) or query parameters."""
    schema = model.model_json_schema()
    return {"parameters": [
        {"name": name, "in": "path" if name in path else "query", "required": name in path,
         "schema": field, "description": field.get("description", "")}
        for name, field in schema["properties"].items()]}


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
StateDep = Annotated[ModelState, Depends(get_state)]
BundleDep = Annotated[Bundle, Depends(get_bundle)]
ServingDep = Annotated[Serving, Depends(get_serving)]
FeedbackDep = Annotated[Feedback, Depends(get_feedback)]
WriteKey = Depends(write_key)
ReadKey = Depends(read_key)
