"""Real-time feedback in the service: writes to the store, each user's events for scoring, and
which users have any.

The hot path must not pay a database round trip for the many users who never posted feedback:
the service keeps the set of users with events, and the events of recently asked users, in
memory. Its own writes and erasures update both at once (read-your-writes on a replica); a
watcher polls the store's change log every FEEDBACK_POLL seconds, so a write on another replica
sharing the PostgreSQL store is seen within that interval.

Domain code: it raises app.errors (FeedbackUnavailable maps to 503), never HTTP errors. When
the store is out of reach, reads of recommendations degrade to the bundle alone (logged, and
reported by /ready) instead of failing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TypeVar

from app.errors import FeedbackUnavailable
from app.metrics import FEEDBACK_STORE_UP, STORE_SECONDS
from recommender_core.feedback_store import (
    Event,
    FeedbackStore,
    StoredEvent,
    StoreError,
    StoreUnavailable,
)

log = logging.getLogger("app")
T = TypeVar("T")
CACHED_USERS = 10_000  # users whose events are kept in memory (least recently asked go first)
POLL_OVERLAP = 30.0  # seconds of change log read again (see FeedbackStore.changes_since)


class FeedbackEvents:
    """The service's view of the feedback store: which users have events, their events
    (cached), writes and erasures. Users are keyed by their id as text (the store's)."""

    def __init__(self, store: FeedbackStore, cached_users: int = CACHED_USERS) -> None:
        self.store = store
        self.cached_users = cached_users
        self.users: set[str] = set()  # users with at least one event (once synced)
        self.synced = False  # users is known; until then requests use the bundle alone
        self.error: str | None = None
        self._cache: OrderedDict[str, tuple[StoredEvent, ...]] = OrderedDict()
        self._cursor = 0
        self._since = 0.0
        self._applied: dict[int, float] = {}  # change seqs applied within the overlap window
        self._writes = 0  # bumped by every invalidation: a read that overlapped one is not cached
        # writes waiting for the next commit, and the task committing (one at a time)
        self._queued: list[tuple[list[Event], asyncio.Future[list[bool]]]] = []
        self._committing: asyncio.Task[None] | None = None

    # ------------------------------------------------------------- the store, off the loop

    async def _call(self, operation: str, work: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            result = await asyncio.to_thread(work)
        except StoreUnavailable as exc:
            self._failed(str(exc))
            raise
        finally:
            STORE_SECONDS.labels(operation).observe(time.perf_counter() - start)
        self._recovered()
        return result

    def _failed(self, message: str) -> None:
        if self.error != message:
            log.error("feedback store %s unavailable: %s", self.store.description, message)
        self.error = message
        FEEDBACK_STORE_UP.set(0)

    def _recovered(self) -> None:
        if self.error is not None:
            log.warning("feedback store %s reachable again", self.store.description)
        self.error = None
        FEEDBACK_STORE_UP.set(1)

    # ------------------------------------------------------------- keeping in step

    async def sync(self) -> None:
        """Learn every user with events (at start, and when the change log cannot say)."""
        started = time.time()
        cursor, users = await self._call("sync", self.store.users)
        self.users, self._cursor, self._since = users, cursor, started - POLL_OVERLAP
        self._cache.clear()
        self._writes += 1
        self.synced = True

    async def poll(self) -> None:
        """Apply the changes other replicas (or this one) logged since the last poll."""
        if not self.synced:
            await self.sync()
            return
        started = time.time()
        cursor, since = self._cursor, self._since
        changes = await self._call("poll", lambda: self.store.changes_since(cursor, since))
        if changes is None:
            await self.sync()
            return
        fresh = [(seq, user) for seq, user in changes if seq not in self._applied]
        self._since = started - POLL_OVERLAP
        self._cursor = max([cursor, *(seq for seq, _ in changes)])
        self._applied = {seq: at for seq, at in self._applied.items() if at >= self._since}
        self._applied.update((seq, started) for seq, _ in fresh)
        if not fresh:
            return
        self._writes += 1
        for _, user in fresh:
            self._cache.pop(user, None)
            self.users.add(user)  # confirmed (or dropped) by the next history() read

    async def watch(self, interval: float) -> None:
        while True:
            try:
                await self.poll()
            except StoreUnavailable:
                pass  # logged once by _failed; /ready reports it
            except StoreError as exc:
                self._failed(str(exc))
            await asyncio.sleep(interval)

    # ------------------------------------------------------------- requests

    async def _request(self, operation: str, work: Callable[[], T]) -> T:
        """A request's store call; an unreachable or misconfigured store is the request's
        FeedbackUnavailable (503)."""
        try:
            return await self._call(operation, work)
        except (StoreUnavailable, StoreError) as exc:
            raise FeedbackUnavailable(str(exc)) from exc

    async def add(self, events: Sequence[Event]) -> list[bool]:
        """Store ``events`` (True: stored now, False: a duplicate event_id), once their
        transaction committed. Writes that arrive while one commits wait and go together into
        the next transaction: one trip to the store's thread for them all."""
        waiter: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._queued.append((list(events), waiter))
        if self._committing is None:
            self._committing = asyncio.create_task(self._commit_queued())
        stored = await waiter
        self._writes += 1
        for item, new in zip(events, stored, strict=True):
            if new:
                self._cache.pop(item.user_id, None)
                self.users.add(item.user_id)
        return stored

    async def _commit_queued(self) -> None:
        """Commit the queued writes, group after group, until none is left; each waiter gets
        its result or FeedbackUnavailable (a waiter whose request went away is skipped)."""
        try:
            while self._queued:
                group, self._queued = self._queued, []
                try:
                    results: list[list[bool] | Exception] = await self._call(
                        "add", functools.partial(self.store.add_each,
                                                 [events for events, _ in group]))
                except asyncio.CancelledError:  # the service is stopping: nobody waits
                    for _, waiter in group + self._queued:
                        waiter.cancel()
                    raise
                except Exception as exc:  # noqa: BLE001 (every waiter gets it)
                    results = [exc] * len(group)
                for (_, waiter), result in zip(group, results, strict=True):
                    if waiter.done():
                        continue
                    if isinstance(result, StoreUnavailable | StoreError):
                        waiter.set_exception(FeedbackUnavailable(str(result)))
                    elif isinstance(result, Exception):
                        waiter.set_exception(result)
                    else:
                        waiter.set_result(result)
        finally:
            self._committing = None

    async def erase(self, user_id: str) -> int:
        removed = await self._request("erase", lambda: self.store.delete_user(user_id))
        self._writes += 1
        self._cache.pop(user_id, None)
        self.users.discard(user_id)
        return removed

    async def page(self, user_id: str, offset: int, limit: int
                   ) -> tuple[int, list[StoredEvent]]:
        return await self._request(
            "page", lambda: self.store.events_of(user_id, offset=offset, limit=limit))

    def has_events(self, user_id: str) -> bool:
        """Whether a request for ``user_id`` must read their events (no I/O)."""
        return self.synced and user_id in self.users

    async def history(self, user_id: str) -> tuple[StoredEvent, ...]:
        """Every event of ``user_id``, oldest first; empty when they have none or when the
        store is out of reach (the answer then comes from the bundle alone: degraded)."""
        if not self.has_events(user_id):
            return ()
        cached = self._cache.get(user_id)
        if cached is not None:
            self._cache.move_to_end(user_id)
            return cached
        writes = self._writes
        try:
            events = tuple(await self._call("history", lambda: self.store.history(user_id)))
        except (StoreUnavailable, StoreError):
            log.warning("recommendations for user %s without their feedback (store "
                        "unavailable)", user_id)
            return ()
        if writes != self._writes:  # a write landed meanwhile: answer, but do not keep it
            return events
        if not events:
            self.users.discard(user_id)
            return ()
        self._cache[user_id] = events
        if len(self._cache) > self.cached_users:
            self._cache.popitem(last=False)
        return events

    def status(self) -> dict[str, object]:
        return {"store": self.store.description, "backend": self.store.backend,
                "ok": self.error is None and self.synced, "error": self.error,
                "users": len(self.users) if self.synced else None}
