from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response
from fastapi.responses import JSONResponse

from app.deps import BundleDep, FeedbackDep, SettingsDep, StateDep
from app.errors import BundleError
from app.metrics import exposition
from app.schemas import ErrorBody, FeedbackStatus, Health, Readiness, ReloadResult
from recommender_core import __version__

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is alive (a model may still be loading); the package's version."""
    return Health(status="ok", version=__version__)


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(state: StateDep, feedback: FeedbackDep) -> Any:
    """200 once a verified bundle is loaded; 503 with the reason otherwise. `feedback` says
    whether the feedback store answers: when it does not, recommendations are still served,
    from the bundle alone (degraded), and POST /feedback answers 503."""
    store = FeedbackStatus.model_validate(feedback.status())
    if state.bundle is None:
        body = Readiness(ready=False, model_version=None, reason=state.last_error,
                         feedback=store)
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(ready=True, model_version=state.bundle.version, reason=state.last_error,
                     feedback=store)


@router.get("/model")
async def model_manifest(bundle: BundleDep) -> dict[str, Any]:
    """The live bundle's manifest."""
    return bundle.manifest


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus exposition: with WORKERS above 1, the sum over every worker (app.metrics)."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@router.post("/admin/reload", response_model=ReloadResult,
             responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody},
                        409: {"model": ErrorBody}})
async def reload(state: StateDep, settings: SettingsDep,
                 authorization: Annotated[str | None, Header(max_length=1000)] = None,
                 ) -> ReloadResult:
    """Load MODEL_DIR/current again (enabled only when ADMIN_TOKEN is set)."""
    if settings.admin_token is None:
        raise HTTPException(404, detail="not found")
    expected = f"Bearer {settings.admin_token.get_secret_value()}".encode()
    if not hmac.compare_digest((authorization or "").encode(), expected):
        raise HTTPException(401, detail="missing or wrong bearer token")
    try:
        bundle, previous = await state.reload()
    except BundleError as exc:
        raise HTTPException(409, detail=f"bundle refused, still serving the previous one: "
                            f"{exc}") from None
    return ReloadResult(reloaded=True, model_version=bundle.version, previous_version=previous)

