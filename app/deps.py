"""Typed dependencies of the routes. All `async def` and none nested in another: a plain `def`
dependency runs in the threadpool (a thread hop per request), and every dependency level costs
FastAPI a parameter-resolution pass; on the hot routes these were most of a request's cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.bundle import Bundle
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


async def get_serving(request: Request) -> Serving:
    return Serving(_loaded(request.app.state.model), request.app.state.settings)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
StateDep = Annotated[ModelState, Depends(get_state)]
BundleDep = Annotated[Bundle, Depends(get_bundle)]
ServingDep = Annotated[Serving, Depends(get_serving)]
