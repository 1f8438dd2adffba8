"""The live bundle and its replacement: loads happen off the event loop; the swap is one
reference assignment, so a request keeps the bundle it started with."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from pathlib import Path

from app.bundle import Bundle
from app.errors import BundleError
from app.loading import load_bundle, resolve_current
from app.metrics import record_load, record_refused
from app.settings import Settings

log = logging.getLogger("app")


class ModelState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model_dir = settings.model_dir
        self.bundle: Bundle | None = None
        self.last_error: str | None = None
        self.last_seen_target: Path | None = None
        self._lock = asyncio.Lock()

    async def reload(self) -> tuple[Bundle, str | None]:
        """Load MODEL_DIR/current and swap it in; raises BundleError and keeps the old one."""
        async with self._lock:
            previous = self.bundle.version if self.bundle else None
            try:
                target = resolve_current(self.model_dir)
                self.last_seen_target = target
                bundle = await asyncio.to_thread(
                    load_bundle, target,
                    score_table_bytes=self.settings.score_table_mb << 20,
                    retrieval_min_movies=self.settings.retrieval_min_movies)
            except BundleError as exc:
                record_refused()
                self.last_error = str(exc)
                log.error("bundle refused, still serving %s: %s", previous, exc)
                raise
            self.bundle = bundle
            self.last_error = None
            record_load(bundle)
            # A bundle leaves ~0.5M long-lived objects; a full collection
            # scanning them took ~150 ms (the p99 of every request). Freeze them out of it.
            gc.collect()
            gc.freeze()
            log.info("serving bundle %s (was %s)", bundle.version, previous)
            return bundle, previous

    async def watch(self, interval: float) -> None:
        """Reload when MODEL_DIR/current points somewhere new (or no bundle is loaded yet)."""
        while True:
            await asyncio.sleep(interval)
            try:
                target = resolve_current(self.model_dir)
            except BundleError:
                continue
            if target != self.last_seen_target:
                with contextlib.suppress(BundleError):  # logged; the old bundle keeps serving
                    await self.reload()
