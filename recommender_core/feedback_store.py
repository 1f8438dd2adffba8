"""The feedback store: rating events posted to the service, kept in SQLite (the embedded
default) or PostgreSQL (shared by several replicas), through one SQLAlchemy Core schema.

Both roles import this module and nothing else of each other's (like bundle_format): the
service writes and reads events, ``python -m training train --feedback URL`` reads them all.
No TensorFlow here.

Tables (schema version ``SCHEMA_VERSION``, checked when a store is opened):

- ``feedback_events``: one row per stored event. ``seq`` orders arrivals; ``event_id`` is the
  client's idempotency key (unique; NULL when the client sent none).
- ``feedback_changes``: one row per user touched by a write, an erasure or a pruning, so that
  every replica can learn which users' cached events went stale (``changes_since``).
- ``feedback_schema``: the schema version.

Ids are text (schema 2): a catalogue's string ids as given, MovieLens' integers as their
decimal text. A store of schema 1 (integer columns) is migrated in place when it is opened,
in one transaction.

Durability: a write returns only after its transaction committed (SQLite in WAL mode with
``synchronous=FULL``, so an acknowledged event survives a crash of the process or the machine).
Group commit: the writes of concurrent callers that wait while a transaction commits are
committed together in the next one (one fsync for all of them); each caller still returns only
once its own events are durable.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

SCHEMA_VERSION = 2
MAX_EVENT_ID = 128  # characters of a client event_id
MAX_ID_LENGTH = 256  # characters of a user or movie id (bundle_format.MAX_KEY_LENGTH)
DEFAULT_MAX_PER_USER = 10_000

# SQLite gives autoincrement only to an "INTEGER PRIMARY KEY" column.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()
events_table = Table(
    "feedback_events", metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("user_id", String(MAX_ID_LENGTH), nullable=False),
    Column("movie_id", String(MAX_ID_LENGTH), nullable=False),
    Column("rating", Float, nullable=False),
    Column("timestamp", BigInteger, nullable=False),  # when it happened (Unix seconds)
    Column("event_id", String(MAX_EVENT_ID), nullable=True, unique=True),
    Column("received_at", Float, nullable=False),  # when the store took it (Unix seconds)
    Index("ix_feedback_events_user", "user_id", "timestamp", "seq"),
    sqlite_autoincrement=True,  # never reuse a seq, even after deletes
)
changes_table = Table(
    "feedback_changes", metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("user_id", String(MAX_ID_LENGTH), nullable=False),
    Column("at", Float, nullable=False),
    sqlite_autoincrement=True,
)
schema_table = Table("feedback_schema", metadata, Column("version", Integer, primary_key=True))

CHANGES_KEPT_SECONDS = 24 * 3600  # a replica that polls less often than this reloads all


class StoreError(ValueError):
    """The store's URL or schema is wrong: a configuration error, not an outage."""


class StoreUnavailable(Exception):
    """The database cannot be reached or refused the operation; try again later."""


@dataclass(frozen=True)
class Event:
    """One rating as a client posted it (``timestamp``: Unix seconds; ids as text)."""

    user_id: str
    movie_id: str
    rating: float
    timestamp: int
    event_id: str | None = None


@dataclass(frozen=True)
class StoredEvent(Event):
    seq: int = 0
    received_at: float = 0.0


def normalise_url(url: str) -> URL:
    """``sqlite:///path`` or ``postgresql://user:pass@host/db`` (psycopg 3 is the driver)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"FEEDBACK_URL {url!r} is not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError("FEEDBACK_URL: sqlite needs a file path (sqlite:///path/to/file); "
                             "an in-memory store would lose every event on restart")
        return parsed.set(drivername="sqlite")
    raise StoreError(f"FEEDBACK_URL: unsupported database {backend!r}; use sqlite:///path or "
                     f"postgresql://user:password@host:port/database")


def redacted(url: str | URL) -> str:
    """A store URL (checked by normalise_url) without its password and driver name."""
    parsed = normalise_url(url) if isinstance(url, str) else url
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(
        hide_password=True)


def _refused(exc: DBAPIError) -> bool:
    """The server cannot be reached at all (retrying the schema set-up would not help)."""
    text = str(exc.orig)
    return "connection" in text.lower() and ("refused" in text or "failed" in text)


def _unavailable(exc: Exception) -> StoreUnavailable:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return StoreUnavailable(text[0] if text else type(exc).__name__)


@dataclass(eq=False)
class _Write:
    """One caller's part of a group commit: its events, and, once committed, which of them
    were stored (False: a duplicate event_id) or its error."""

    events: Sequence[Event]
    result: Any = None
    error: Exception | None = None
    done: bool = False

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """One committer at a time in this process (SQLite takes one writer anyway, and its
    sleep-and-retry busy handler gave a 1 s p99 at 16 connections; other processes still wait
    through busy_timeout). Writers that arrive meanwhile queue, and the next committer takes
    them all into one transaction, ``commit(batch)``."""

    def __init__(self, commit: Callable[[list[_Write]], None]) -> None:
        self.lock = threading.Lock()  # held by the committer (and by other writes: _run)
        self._commit = commit
        self._pending: list[_Write] = []
        self._pending_lock = threading.Lock()

    def submit(self, write: _Write) -> Any:
        """Commit ``write`` together with every write queued meanwhile, and return its result
        (or raise its error) once its transaction committed."""
        self.submit_all([write])
        return write.outcome()

    def results(self, writes: Sequence[_Write]) -> list[list[bool] | Exception]:
        """Several callers' writes, in one transaction where they can be (a write that fails
        is retried alone, as concurrent ``submit`` calls are): each one's result, or the error
        it met; StoreUnavailable itself when every write met it (the store is out of reach,
        not a caller's events at fault)."""
        self.submit_all(writes)
        failed = [each.error for each in writes if each.error is not None]
        if writes and len(failed) == len(writes) and isinstance(failed[0], StoreUnavailable):
            raise failed[0]
        return [each.error if each.error is not None else list(each.result) for each in writes]

    def submit_all(self, writes: Sequence[_Write]) -> None:
        """Commit ``writes`` together with every write queued meanwhile; each ends done, with
        its result or its error. They are queued at once, so one committer takes them all;
        every write a committer takes ends done, so writes not done when their thread gets
        the lock are still queued."""
        with self._pending_lock:
            self._pending.extend(writes)
        with self.lock:
            if writes and not writes[0].done:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                try:
                    self._commit(batch)
                except Exception as exc:  # noqa: BLE001 (each write gets its own outcome)
                    if len(batch) == 1:
                        batch[0].error, batch[0].done = exc, True
                    else:  # one write's failure must not fail the others
                        for each in batch:
                            try:
                                self._commit([each])
                            except Exception as single:  # noqa: BLE001
                                each.error, each.done = single, True


def make_engine(url: URL, timeout: float) -> Engine:
    """SQLite in WAL mode with full fsync (its folder created), or a PostgreSQL pool."""
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=8, max_overflow=24, pool_pre_ping=True,
                         pool_timeout=timeout,
                         connect_args={"connect_timeout": max(1, int(timeout))})


def create_schema(engine: Engine) -> list[int]:
    """Create the tables where missing, migrate a store of schema 1, and return the schema
    versions stored (one transaction; a concurrent opener waits or retries)."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # one migrator at a time
            connection.execute(text("LOCK TABLE feedback_schema IN EXCLUSIVE MODE"))
        stored: list[Any] = list(connection.scalars(select(schema_table.c.version)))
        versions = [int(v) for v in stored]
        if not versions:
            connection.execute(schema_table.insert(), {"version": SCHEMA_VERSION})
            versions = [SCHEMA_VERSION]
        elif versions == [1]:
            _migrate_from_1(connection)
            versions = [SCHEMA_VERSION]
    return versions


def _migrate_from_1(connection: Any) -> None:
    """Schema 1 → 2: the id columns become text (every event and change kept)."""
    if connection.dialect.name == "postgresql":
        for table, columns in (("feedback_events", ("user_id", "movie_id")),
                               ("feedback_changes", ("user_id",))):
            for column in columns:
                connection.execute(text(
                    f"ALTER TABLE {table} ALTER COLUMN {column} TYPE "
                    f"VARCHAR({MAX_ID_LENGTH}) USING {column}::text"))
    else:  # SQLite cannot change a column's type: copy into new tables
        connection.execute(text("DROP INDEX IF EXISTS ix_feedback_events_user"))
        for table in ("feedback_events", "feedback_changes"):
            connection.execute(text(f"ALTER TABLE {table} RENAME TO {table}_v1"))
        metadata.create_all(connection, tables=[events_table, changes_table])
        connection.execute(text(
            "INSERT INTO feedback_events (seq, user_id, movie_id, rating, timestamp, "
            "event_id, received_at) SELECT seq, CAST(user_id AS TEXT), "
            "CAST(movie_id AS TEXT), rating, timestamp, event_id, received_at "
            "FROM feedback_events_v1"))
        connection.execute(text(
            "INSERT INTO feedback_changes (seq, user_id, at) SELECT seq, "
            "CAST(user_id AS TEXT), at FROM feedback_changes_v1"))
        for table in ("feedback_events", "feedback_changes"):
            connection.execute(text(f"DROP TABLE {table}_v1"))
    connection.execute(schema_table.update().values(version=SCHEMA_VERSION))


class FeedbackStore:
    """Events of one database. Every method is blocking (call it from a worker thread in async
    code) and raises :class:`StoreUnavailable` when the database is out of reach."""

    def __init__(self, url: str, *, max_per_user: int = DEFAULT_MAX_PER_USER,
                 connect_timeout: float = 5.0) -> None:
        self.url = normalise_url(url)
        self.max_per_user = max_per_user
        self.backend = self.url.get_backend_name()
        self.engine = make_engine(self.url, connect_timeout)
        self._ready = False
        self._open_lock = threading.Lock()
        self._writes = GroupCommit(lambda batch: self._commit(batch))

    @property
    def description(self) -> str:
        """The URL without its password (for logs, /ready and the manifest)."""
        return redacted(self.url)

    # ---------------------------------------------------------------- schema

    def open(self) -> None:
        """Create the tables on first use and check the schema version (idempotent; safe
        when several threads or processes open the same new store at once)."""
        with self._open_lock:
            if self._ready:
                return
            for attempt in range(3):
                try:
                    versions = create_schema(self.engine)
                    break
                except DBAPIError as exc:
                    if attempt == 2 or exc.connection_invalidated or _refused(exc):
                        raise _unavailable(exc) from exc
                    time.sleep(0.1 * (attempt + 1))  # another process was creating them
            if versions != [SCHEMA_VERSION]:
                raise StoreError(f"{self.description}: feedback schema version {versions}, "
                                 f"this code reads version {SCHEMA_VERSION}")
            self._ready = True

    def _run(self, work: Any, *, write: bool = False) -> Any:
        """``work(connection)`` in one transaction, after open(); database errors become
        StoreUnavailable."""
        self.open()
        lock = self._writes.lock if write else None
        try:
            with lock or contextlib.nullcontext(), self.engine.begin() as connection:
                return work(connection)
        except (DBAPIError, PoolTimeout) as exc:
            raise _unavailable(exc) from exc

    def _commit(self, batch: list[_Write]) -> None:
        """One transaction for every write of ``batch``: their events inserted by one
        statement, the users they touched pruned and logged; each write gets its result."""
        events = [event for each in batch for event in each.events]
        try:
            with self.engine.begin() as connection:
                stored = self._insert(connection, events)
                users = sorted({str(e.user_id) for e, new in zip(events, stored, strict=True)
                                if new})
                self._prune(connection, users)
                self._changed(connection, users, time.time())
        except (DBAPIError, PoolTimeout) as exc:
            raise _unavailable(exc) from exc
        start = 0
        for each in batch:
            each.result, each.done = stored[start:start + len(each.events)], True
            start += len(each.events)

    def _insert(self, connection: Any, events: Sequence[Event]) -> list[bool]:
        """Insert ``events`` in order (one executemany); for each, whether it was stored: an
        event whose event_id is already stored (or given earlier in ``events``) is not."""
        if not events:
            return []
        now = time.time()
        insert = (postgresql.insert if self.backend == "postgresql" else sqlite.insert)(
            events_table).on_conflict_do_nothing(index_elements=["event_id"]).returning(
            events_table.c.event_id)
        rows = [{"user_id": str(e.user_id), "movie_id": str(e.movie_id),
                 "rating": float(e.rating), "timestamp": int(e.timestamp),
                 "event_id": e.event_id, "received_at": now} for e in events]
        inserted = {row.event_id for row in connection.execute(insert, rows)
                    if row.event_id is not None}
        stored = []
        for item in events:
            if item.event_id is None:
                stored.append(True)
            else:
                stored.append(item.event_id in inserted)
                inserted.discard(item.event_id)  # a repeat later in the batch is a duplicate
        return stored

    # ---------------------------------------------------------------- writes

    def add(self, events: Sequence[Event]) -> list[bool]:
        """Store ``events`` in one transaction; for each, True if stored now, False if an event
        with its ``event_id`` was already stored (idempotent retries). Users above
        ``max_per_user`` events lose their oldest (by timestamp, then arrival)."""
        self.open()
        return list(self._writes.submit(_Write(list(events))))

    def add_each(self, batches: Sequence[Sequence[Event]]) -> list[list[bool] | Exception]:
        """``add`` for several callers at once (GroupCommit.results)."""
        self.open()
        return self._writes.results([_Write(list(events)) for events in batches])

    def _prune(self, connection: Any, users: Sequence[str]) -> None:
        """Users of ``users`` above ``max_per_user`` events lose their oldest (one counting
        query for all of them)."""
        if not users:
            return
        counts = connection.execute(
            select(events_table.c.user_id, func.count()).where(
                events_table.c.user_id.in_(users)).group_by(events_table.c.user_id)).all()
        for user, count in counts:
            if count <= self.max_per_user:
                continue
            oldest = (select(events_table.c.seq).where(events_table.c.user_id == user)
                      .order_by(events_table.c.timestamp.desc(), events_table.c.seq.desc())
                      .offset(self.max_per_user))
            # PostgreSQL and SQLite both take a subquery here; MySQL would not (unsupported).
            connection.execute(delete(events_table).where(events_table.c.seq.in_(
                select(oldest.subquery().c.seq))))

    def _changed(self, connection: Any, users: Iterable[str], now: float) -> None:
        rows = [{"user_id": user, "at": now} for user in users]
        if rows:
            connection.execute(changes_table.insert(), rows)

    def delete_user(self, user_id: str) -> int:
        """Erase every event of ``user_id``; returns how many there were."""
        def work(connection: Any) -> int:
            result = connection.execute(delete(events_table)
                                        .where(events_table.c.user_id == user_id))
            self._changed(connection, [user_id], time.time())
            return int(result.rowcount)

        return int(self._run(work, write=True))

    # ---------------------------------------------------------------- reads

    def events_of(self, user_id: str, *, offset: int = 0,
                  limit: int | None = None) -> tuple[int, list[StoredEvent]]:
        """(how many events ``user_id`` has, a page of them newest first)."""
        def work(connection: Any) -> tuple[int, list[StoredEvent]]:
            where = events_table.c.user_id == user_id
            total = connection.scalar(select(func.count()).select_from(events_table)
                                      .where(where))
            query = (select(events_table).where(where)
                     .order_by(events_table.c.timestamp.desc(), events_table.c.seq.desc())
                     .offset(offset).limit(limit))
            return int(total), [_stored(row) for row in connection.execute(query)]

        total, page = self._run(work)
        return total, page

    def history(self, user_id: str) -> list[StoredEvent]:
        """Every event of ``user_id``, oldest first (timestamp, then arrival)."""
        query = (select(events_table).where(events_table.c.user_id == user_id)
                 .order_by(events_table.c.timestamp, events_table.c.seq))
        return list(self._run(lambda c: [_stored(row) for row in c.execute(query)]))

    def users(self) -> tuple[int, set[str]]:
        """(the latest change sequence number, every user with at least one event)."""
        def work(connection: Any) -> tuple[int, set[str]]:
            last = connection.scalar(select(func.max(changes_table.c.seq))) or 0
            found = connection.scalars(select(events_table.c.user_id).distinct()).all()
            return int(last), {str(user) for user in found}

        last, found = self._run(work)
        return last, found

    def changes_since(self, seq: int, since: float) -> list[tuple[int, str]] | None:
        """(change seq, user) of every change after ``seq`` or at ``since`` or later; None
        when changes after ``seq`` were already discarded (the caller reloads everything with
        ``users``). The time window catches a PostgreSQL transaction that took a lower seq but
        committed after a higher one was read; callers skip the seqs they already applied."""
        def work(connection: Any) -> list[tuple[int, str]] | None:
            connection.execute(delete(changes_table).where(
                changes_table.c.at < time.time() - CHANGES_KEPT_SECONDS))
            first = connection.scalar(select(func.min(changes_table.c.seq)))
            if first is not None and seq and first > seq + 1:
                return None
            rows = connection.execute(
                select(changes_table.c.seq, changes_table.c.user_id)
                .where((changes_table.c.seq > seq) | (changes_table.c.at >= since))).all()
            return [(int(row.seq), str(row.user_id)) for row in rows]

        result: list[tuple[int, str]] | None = self._run(work, write=True)
        return result

    def all_events(self) -> list[StoredEvent]:
        """Every stored event in arrival order (for training)."""
        query = select(events_table).order_by(events_table.c.seq)
        return list(self._run(lambda c: [_stored(row) for row in c.execute(query)]))

    def close(self) -> None:
        self.engine.dispose()


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(user_id=str(row.user_id), movie_id=str(row.movie_id),
                       rating=float(row.rating), timestamp=int(row.timestamp),
                       event_id=row.event_id, seq=int(row.seq),
                       received_at=float(row.received_at))
