"""Typed dependencies of the routes. All `async def`: a plain `def` dependency runs in the
threadpool, a thread hop per dependency per request (it was most of a request's cost)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.bundle import Bundle
from app.settings import Settings
from app.state import ModelState


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_state(request: Request) -> ModelState:
    return request.app.state.model


async def get_bundle(state: Annotated[ModelState, Depends(get_state)]) -> Bundle:
    """The bundle this request uses from start to end, even if a reload swaps it meanwhile."""
    if state.bundle is None:
        raise HTTPException(503, detail=f"no model loaded: {state.last_error}")
    return state.bundle


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
StateDep = Annotated[ModelState, Depends(get_state)]
BundleDep = Annotated[Bundle, Depends(get_bundle)]
