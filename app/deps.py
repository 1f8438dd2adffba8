"""Typed dependencies of the routes: one per resource (settings, model state, bundle, feedback
store), the access checks, and query validation. All `async def`: a plain `def` dependency
runs in the threadpool (a thread hop per request).

The two hottest routes (GET /recommend/{user_id}, GET /similar/{movie_id}) take only the
`Request` and await the resource functions below themselves, and validate with `parameters`:
FastAPI's dependency and parameter resolution cost them more than ranking the whole catalogue.
`parameters` raises the same 422 FastAPI would; `openapi_parameters` documents them."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.bundle import Bundle
from app.errors import NoModel, NotFound, Unauthorized
from app.events import FeedbackEvents
from app.settings import Settings
from app.state import ModelState


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_state(request: Request) -> ModelState:
    return request.app.state.model


async def get_bundle(request: Request) -> Bundle:
    """The live bundle, which the request uses from start to end (even if a reload swaps in
    another meanwhile); 503 while none is loaded."""
    state: ModelState = request.app.state.model
    if state.bundle is None:
        raise NoModel(f"no model loaded: {state.last_error}")
    return state.bundle


async def get_feedback(request: Request) -> FeedbackEvents:
    return request.app.state.feedback


SettingsDep = Annotated[Settings, Depends(get_settings)]
StateDep = Annotated[ModelState, Depends(get_state)]
BundleDep = Annotated[Bundle, Depends(get_bundle)]
FeedbackDep = Annotated[FeedbackEvents, Depends(get_feedback)]
KeyHeader = Annotated[str | None, Header(max_length=1000)]


def check_key(settings: Settings, given: str | None) -> None:
    """Unauthorized unless API_KEY is unset or ``given`` (the X-API-Key header) is it."""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    if not hmac.compare_digest((given or "").encode(), expected):  # constant time
        raise Unauthorized("missing or wrong X-API-Key")


async def write_key(settings: SettingsDep, x_api_key: KeyHeader = None) -> None:
    """Writes need X-API-Key when API_KEY is set."""
    check_key(settings, x_api_key)


async def read_key(settings: SettingsDep, x_api_key: KeyHeader = None) -> None:
    """Reads of stored feedback need X-API-Key when API_KEY is set and API_KEY_FOR_READS."""
    if settings.api_key_for_reads:
        check_key(settings, x_api_key)


async def admin_token(settings: SettingsDep, authorization: KeyHeader = None) -> None:
    """The admin endpoints exist only when ADMIN_TOKEN is set (404 otherwise), and need it
    as a bearer token."""
    if settings.admin_token is None:
        raise NotFound("not found")
    expected = f"Bearer {settings.admin_token.get_secret_value()}".encode()
    if not hmac.compare_digest((authorization or "").encode(), expected):  # constant time
        raise Unauthorized("missing or wrong bearer token")


WriteKey = Depends(write_key)
ReadKey = Depends(read_key)
AdminToken = Depends(admin_token)

Params = TypeVar("Params", bound=BaseModel)


def string_ids(request: Request) -> bool:
    """The live bundle's catalogue has string ids (False while none is loaded)."""
    bundle: Bundle | None = request.app.state.model.bundle
    return bundle is not None and bundle.string_ids


def client_id(key: str, strings: bool) -> int | str:
    """A stored id (text) as clients of the catalogue give it: the integer of a MovieLens
    catalogue's, the string of a catalogue with string ids."""
    return key if strings or not key.isdecimal() else int(key)


def parameters(model: type[Params], request: Request,
               keys: type[Params] | None = None) -> Params:
    """Path and query parameters validated by ``model`` in one pass (by ``keys`` when the live
    bundle's catalogue has string ids); errors as FastAPI's 422."""
    path = request.path_params
    if keys is not None and string_ids(request):
        model = keys
    try:
        return model.model_validate({**request.query_params, **path})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("path" if error["loc"][0] in path else "query", *error["loc"])}
             for error in exc.errors()]) from None


def validated(model: type[Params], keys: type[Params] | None = None
              ) -> Callable[[Request], Coroutine[Any, Any, Params]]:
    """A dependency giving ``parameters(model, request, keys)``: the other routes' way to
    take the same parameter models as the hot ones."""

    async def dependency(request: Request) -> Params:
        return parameters(model, request, keys)

    return dependency


def openapi_parameters(model: type[BaseModel], path: tuple[str, ...],
                       keys: type[BaseModel] | None = None) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model``'s fields as path (``path``) or query parameters;
    a path parameter that ``keys`` (the string-id variant) types otherwise is either."""
    schema = model.model_json_schema()
    other = keys.model_json_schema()["properties"] if keys is not None else {}
    parameters = []
    for name, field in schema["properties"].items():
        if name in path and name in other and other[name] != field:
            description = other[name].get("description", field.get("description", ""))
            field = {"anyOf": [{k: v for k, v in field.items() if k != "description"},
                               {k: v for k, v in other[name].items() if k != "description"}],
                     "title": field.get("title", name), "description": description}
        parameters.append({"name": name, "in": "path" if name in path else "query",
                           "required": name in path, "schema": field,
                           "description": field.get("description", "")})
    return {"parameters": parameters}
