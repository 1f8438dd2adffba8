"""Service settings, from the environment (one pydantic-settings class)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recommender_core.bundle_format import GRAPH_MIN_MOVIES
from recommender_core.feedback_store import normalise_url

SCORE_TABLE_MB = 512  # known users × movies scores kept in memory, by default


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    model_dir: Path = Field(Path("models"), description="serves MODEL_DIR/current")
    host: str = Field("127.0.0.1", description="`python -m app` binds here; the image sets "
                      "HOST=0.0.0.0")
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes of `python -m "
                         "app`; each loads and serves the bundle on its own (BENCHMARKS.md)")
    log_level: str = Field("info", pattern="^(critical|error|warning|info|debug|trace)$")
    shutdown_grace: float = Field(20.0, ge=0, description="seconds SIGTERM waits for requests "
                                  "in flight")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="larger request bodies get 413")
    default_k: int = Field(10, ge=1, le=1000)
    max_k: int = Field(1000, ge=1, le=1000)
    max_liked: int = Field(1000, ge=1, le=1000,
                           description="most movie ids POST /recommend accepts")
    admin_token: SecretStr | None = Field(None, description="enables POST /admin/reload")
    watch_interval: float = Field(5.0, ge=0, description="seconds between checks of current; "
                                  "0 turns the watcher off")
    score_table_mb: int = Field(SCORE_TABLE_MB, ge=0, description="known users × movies "
                                "scores kept in memory up to this size (exact; 0 scores per "
                                "request)")
    retrieval_min_movies: int = Field(GRAPH_MIN_MOVIES, ge=1, description="from this many "
                                      "movies on, /recommend scores an IVF shortlist exactly "
                                      "instead of every movie (two-stage retrieval; "
                                      "app.retrieval)")
    feedback_url: str = Field("sqlite:///feedback/feedback.sqlite",
                              description="the feedback store: sqlite:///path (relative to the "
                              "working directory; created on first use) or "
                              "postgresql://user:password@host:port/database")
    feedback_max_batch: int = Field(1000, ge=1, le=10_000,
                                    description="most events one POST /feedback takes")
    feedback_max_per_user: int = Field(10_000, ge=1, description="events kept per user; "
                                       "above it the oldest (by timestamp) are dropped")
    feedback_poll: float = Field(1.0, gt=0, description="seconds between reads of the store's "
                                 "change log (writes on other replicas show up within it)")
    api_key: SecretStr | None = Field(None, description="when set, POST /feedback and DELETE "
                                      "/users/{id}/feedback need it in X-API-Key")
    api_key_for_reads: bool = Field(False, description="GET /users/{id}/feedback needs "
                                    "X-API-Key too (only with API_KEY set)")

    @field_validator("feedback_url")
    @classmethod
    def _known_store(cls, value: str) -> str:
        normalise_url(value)  # StoreError (a ValueError) names what is wrong
        return value

    @field_validator("admin_token", "api_key", mode="before")
    @classmethod
    def _empty_token_disables(cls, value: object) -> object:
        """ADMIN_TOKEN="" (compose's default) means no admin endpoint, never an empty token;
        API_KEY="" means writes are open, never an empty key."""
        return None if value is None or (isinstance(value, str) and not value.strip()) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
