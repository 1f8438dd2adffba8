"""Operations routes: health, readiness, the live manifest, metrics, and the admin reload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from app.deps import AdminToken, BundleDep, FeedbackDep, StateDep
from app.errors import BundleError, BundleRefused
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


@router.post("/admin/reload", response_model=ReloadResult, dependencies=[AdminToken],
             responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody},
                        409: {"model": ErrorBody}})
async def reload(state: StateDep) -> ReloadResult:
    """Load MODEL_DIR/current again (enabled only when ADMIN_TOKEN is set)."""
    try:
        bundle, previous = await state.reload()
    except BundleError as exc:
        raise BundleRefused(f"bundle refused, still serving the previous one: {exc}") from None
    return ReloadResult(reloaded=True, model_version=bundle.version, previous_version=previous)

