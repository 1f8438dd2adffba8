"""The explorer page at `/`: one static HTML file and its script and style (app/web), served
from the package; nothing is fetched from elsewhere and nothing is built at run time."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

WEB = Path(__file__).resolve().parent.parent / "web"
STATIC = WEB / "static"

router = APIRouter(tags=["page"])


@cache
def _index() -> str:
    return (WEB / "index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    """The explorer page (search, similar movies, likes, a user's lists, the model card)."""
    return HTMLResponse(_index(), headers={"Cache-Control": "no-cache"})
