"""The service's own errors. Domain code (loading, ranking) raises these; app.main maps each
to its HTTP status with a JSON body ``{"detail": message}``, so no domain module knows HTTP."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors a request can meet; ``status`` is the HTTP code it maps to."""

    status = 500


class BundleError(ServiceError):
    """The bundle is missing, altered or inconsistent; the message says which file and why."""

    status = 503


class UnknownMovie(ServiceError):
    status = 404

    def __init__(self, movie_id: int | str) -> None:
        super().__init__(f"unknown movie id {movie_id!r}" if isinstance(movie_id, str)
                         else f"unknown movie id {movie_id}")


class InvalidRequest(ServiceError):
    """Well-formed input that the live bundle cannot answer (an unknown genre, say)."""

    status = 422


class Unauthorized(ServiceError):
    """A write (or, when configured, a read) without the right X-API-Key."""

    status = 401


class FeedbackUnavailable(ServiceError):
    """The feedback store cannot take or give events now; nothing was changed."""

    status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(f"feedback store unavailable, try again later: {reason}")


class NoModel(ServiceError):
    """No bundle is loaded yet (or every one so far was refused)."""

    status = 503


class NotFound(ServiceError):
    """A path that is switched off (the admin endpoints without ADMIN_TOKEN)."""

    status = 404


class BundleRefused(ServiceError):
    """A reload found a bundle it would not serve; the previous one keeps serving."""

    status = 409
