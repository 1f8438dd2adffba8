"""The feedback store's contract, run against SQLite on disk and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from recommender_core import feedback_store as fs
from recommender_core.feedback_store import Event, FeedbackStore, StoreError, StoreUnavailable
from tests.postgres import PostgresServer


def test_add_is_idempotent_by_event_id(store_url: str) -> None:
    store = FeedbackStore(store_url)
    first = store.add([Event("1", "10", 4.0, 100, "a"), Event("1", "11", 2.0, 101, "a"),
                       Event("1", "12", 5.0, 102), Event("1", "12", 5.0, 102)])
    assert first == [True, False, True, True]  # no event_id: no idempotency asked for
    assert store.add([Event("1", "10", 4.0, 100, "a"),
                      Event("2", "10", 3.0, 5, "b")]) == [False, True]
    total, page = store.events_of("1")
    assert total == 3 and [e.movie_id for e in page] == ["12", "12", "10"]  # newest first
    assert [e.event_id for e in store.history("1")] == ["a", None, None]  # oldest first
    assert store.events_of("1", offset=1, limit=1)[1][0].movie_id == "12"
    store.close()


def test_oldest_events_are_dropped_above_the_bound(store_url: str) -> None:
    store = FeedbackStore(store_url, max_per_user=3)
    store.add([Event("7", str(movie), 4.0, timestamp) for movie, timestamp in
               [(1, 50), (2, 10), (3, 40), (4, 30), (5, 20)]])
    assert [e.movie_id for e in store.history("7")] == ["4", "3", "1"]
    store.add([Event("7", "6", 4.0, 60)])
    assert [e.movie_id for e in store.history("7")] == ["3", "1", "6"]
    store.close()


def test_erasure_and_change_log(store_url: str) -> None:
    store = FeedbackStore(store_url)
    start = time.time()
    store.add([Event("1", "10", 4.0, 1), Event("2", "10", 4.0, 1), Event("2", "11", 4.0, 2)])
    cursor, users = store.users()
    assert users == {"1", "2"}
    assert store.delete_user("2") == 2
    assert store.history("2") == [] and store.users()[1] == {"1"}
    changes = store.changes_since(cursor, start + 3600)
    assert changes is not None and {user for _, user in changes} == {"2"}
    assert all(seq > cursor for seq, _ in changes)
    everything = store.changes_since(0, start + 3600)
    assert everything is not None and {user for _, user in everything} == {"1", "2"}
    recent = store.changes_since(10**9, start - 60)  # the time window alone
    assert recent is not None and {user for _, user in recent} == {"1", "2"}
    store.close()


def test_concurrent_writers_lose_and_duplicate_nothing(store_url: str) -> None:
    """32 threads, each posting 20 events once and then all of them again (a retrying
    client): every event stored exactly once."""
    store = FeedbackStore(store_url)
    store.open()
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            events = [Event(str(worker), str(movie), 4.0, movie, f"{worker}-{movie}")
                      for movie in range(1, 21)]
            for item in events:
                store.add([item])
            assert store.add(events) == [False] * 20
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(1, 33)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len(store.all_events()) == 32 * 20
    assert all(store.events_of(str(worker))[0] == 20 for worker in range(1, 33))
    store.close()


def test_schema_version_is_checked(store_url: str) -> None:
    store = FeedbackStore(store_url)
    store.open()
    with store.engine.begin() as connection:
        connection.execute(update(fs.schema_table).values(version=99))
    store.close()
    with pytest.raises(StoreError, match=r"schema version \[99\], this code reads version 2"):
        FeedbackStore(store_url).open()


def test_a_store_of_schema_1_is_migrated_with_every_event(store_url: str) -> None:
    """Integer id columns (schema 1) become text; events, seqs, changes and event_ids stay,
    and the next write continues the seq."""
    from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table, insert

    old = MetaData()
    seq = BigInteger().with_variant(Integer(), "sqlite")
    events = Table("feedback_events", old,
                   Column("seq", seq, primary_key=True, autoincrement=True),
                   Column("user_id", BigInteger, nullable=False),
                   Column("movie_id", BigInteger, nullable=False),
                   Column("rating", Float, nullable=False),
                   Column("timestamp", BigInteger, nullable=False),
                   Column("event_id", String(128), nullable=True, unique=True),
                   Column("received_at", Float, nullable=False),
                   sqlite_autoincrement=True)
    changes = Table("feedback_changes", old,
                    Column("seq", seq, primary_key=True, autoincrement=True),
                    Column("user_id", BigInteger, nullable=False),
                    Column("at", Float, nullable=False), sqlite_autoincrement=True)
    schema = Table("feedback_schema", old, Column("version", Integer, primary_key=True))
    engine = fs.make_engine(fs.normalise_url(store_url), 5.0)
    old.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(schema), {"version": 1})
        connection.execute(insert(events), [
            {"user_id": 7, "movie_id": 10, "rating": 4.0, "timestamp": 5, "event_id": "x",
             "received_at": 1.0},
            {"user_id": 7, "movie_id": 11, "rating": 2.0, "timestamp": 6, "event_id": None,
             "received_at": 2.0}])
        connection.execute(insert(changes), {"user_id": 7, "at": time.time()})
    engine.dispose()
    store = FeedbackStore(store_url)
    assert [(e.user_id, e.movie_id, e.event_id, e.seq) for e in store.history("7")] == [
        ("7", "10", "x", 1), ("7", "11", None, 2)]
    assert store.users()[1] == {"7"}
    assert store.add([Event("7", "10", 5.0, 9, "x"), Event("Ana María", "007", 5.0, 9)]) == [
        False, True]
    seqs = [e.seq for e in store.all_events()]
    assert seqs[:2] == [1, 2] and len(seqs) == 3 and seqs[2] > 2  # the seq goes on
    assert store.history("Ana María")[0].movie_id == "007"
    with store.engine.begin() as connection:
        assert list(connection.scalars(select(fs.schema_table.c.version))) == [2]
    store.close()


def test_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "feedback.sqlite"
    store = FeedbackStore(f"sqlite:///{path}")
    store.add([Event("1", "2", 3.0, 4)])
    store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT version FROM feedback_schema").fetchall() == [(2,)]


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite://", "needs a file path"), ("sqlite:///:memory:", "needs a file path"),
    ("mysql://u@h/db", "unsupported database 'mysql'"), ("not a url", "not a database URL"),
])
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        FeedbackStore(url)


def test_unreachable_server_is_reported_not_hung(postgres_server: PostgresServer) -> None:
    """A store on a port nothing listens on: StoreUnavailable, quickly."""
    from tests.servers import free_port

    store = FeedbackStore(f"postgresql://recommender@127.0.0.1:{free_port()}/postgres",
                          connect_timeout=2)
    start = time.perf_counter()
    with pytest.raises(StoreUnavailable, match="127.0.0.1"):
        store.add([Event("1", "2", 3.0, 4)])
    assert time.perf_counter() - start < 10
    assert "@127.0.0.1" in store.description and "psycopg" not in store.description


def test_replicas_see_each_others_writes_through_the_change_log(store_url: str) -> None:
    """Two services on one store: a write through A is seen by B at its next poll; a poll
    that finds nothing new keeps B's cached events (no re-reading the same changes)."""
    import asyncio

    from app.events import FeedbackEvents

    async def scenario() -> None:
        a, b = FeedbackEvents(FeedbackStore(store_url)), FeedbackEvents(FeedbackStore(store_url))
        await a.sync()
        await b.sync()
        assert not b.has_events("42")
        await a.add([Event("42", "7", 5.0, 100)])
        assert a.has_events("42") and not b.has_events("42")
        await b.poll()
        assert b.has_events("42")
        assert [e.movie_id for e in await b.history("42")] == ["7"]
        writes = b._writes
        await b.poll()
        await b.poll()
        assert b._writes == writes and "42" in b._cache  # nothing new: the cache stays
        await a.add([Event("42", "8", 1.0, 200)])
        await b.poll()
        assert [e.movie_id for e in await b.history("42")] == ["7", "8"]
        await a.erase("42")
        await b.poll()
        assert await b.history("42") == () and not b.has_events("42")

    asyncio.run(scenario())


def test_concurrent_writes_share_transactions_and_each_gets_its_own_answer(
        store_url: str) -> None:
    """Group commit: writers that wait while a transaction commits go into the next one
    together (fewer commits than writers), each still learns whether its own event was stored
    (one of two writers of the same event_id), and every event is in the store."""
    from sqlalchemy import event as sa_event

    store = FeedbackStore(store_url)
    store.open()
    commits: list[int] = []
    sa_event.listen(store.engine, "commit", lambda _connection: commits.append(1))
    writers = 24
    barrier = threading.Barrier(writers)
    answers: dict[int, list[bool]] = {}

    def write(worker: int) -> None:
        barrier.wait()
        event_id = "same" if worker < 2 else f"w{worker}"
        answers[worker] = store.add([Event(str(100 + worker), "7", 4.0, 1000 + worker,
                                           event_id)])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == writers
    assert sorted(answers[0] + answers[1]) == [False, True]
    assert all(answers[w] == [True] for w in range(2, writers))
    assert len(commits) < writers - 1, len(commits)
    stored = store.all_events()
    assert len(stored) == writers - 1
    assert {e.event_id for e in stored} == {"same", *(f"w{w}" for w in range(2, writers))}


def test_a_failing_write_does_not_fail_the_others_of_its_group(tmp_path: Path) -> None:
    """A write that cannot be stored (here a timestamp SQLite cannot hold) fails alone: the
    writes grouped with it are committed and answered."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.sqlite'}")
    store.open()
    release = threading.Event()
    original = store._commit
    calls: list[int] = []

    def slow_first_commit(batch: list[fs._Write]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            release.wait(5)  # hold the lock while the others queue up
        original(batch)

    store._commit = slow_first_commit  # type: ignore[method-assign]
    results: dict[str, object] = {}

    def write(name: str, timestamp: int) -> None:
        try:
            results[name] = store.add([Event(name, "1", 4.0, timestamp, name)])
        except Exception as exc:  # noqa: BLE001
            results[name] = exc

    first = threading.Thread(target=write, args=("first", 1))
    first.start()
    time.sleep(0.2)
    others = [threading.Thread(target=write, args=(name, user))
              for name, user in (("good", 2), ("poison", 2 ** 70), ("also-good", 3))]
    for thread in others:
        thread.start()
    time.sleep(0.3)
    release.set()
    for thread in (first, *others):
        thread.join(timeout=30)
    assert results["first"] == [True] and results["good"] == [True]
    assert results["also-good"] == [True]
    assert isinstance(results["poison"], OverflowError)
    assert calls[1] == 3  # the three queued writes were tried as one group first
    assert {e.event_id for e in store.all_events()} == {"first", "good", "also-good"}


def test_the_service_sends_waiting_writes_to_the_store_together(tmp_path: Path) -> None:
    """app.events.FeedbackEvents: requests whose writes queue while none commits go to the
    store's thread in one trip and one transaction; each gets its own answer (one of two
    writers of an event_id stored, the other a duplicate) and a write that cannot be stored
    fails alone."""
    import asyncio

    from sqlalchemy import event as sa_event

    from app.events import FeedbackEvents

    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.sqlite'}")
    store.open()
    commits: list[int] = []
    sa_event.listen(store.engine, "commit", lambda _connection: commits.append(1))
    trips: list[int] = []
    original = store.add_each

    def counted(batches: list[list[Event]]) -> list[list[bool] | Exception]:
        trips.append(len(batches))
        return original(batches)

    store.add_each = counted  # type: ignore[method-assign]
    service = FeedbackEvents(store)

    async def scenario(poison: bool) -> list[object]:
        first = 100 if poison else 0
        writes = [service.add([Event(str(u), "1", 4.0, 1000 + u,
                                     "same" if u < first + 2 else f"e{u}")])
                  for u in range(first, first + 30)]
        if poison:
            writes.append(service.add([Event("p", "1", 4.0, 2 ** 70, "poison")]))
        return await asyncio.gather(*writes, return_exceptions=True)

    results = asyncio.run(scenario(poison=False))
    assert trips == [30] and len(commits) == 1  # one trip, one transaction
    assert sorted(results[0] + results[1]) == [False, True]  # type: ignore[operator]
    assert all(result == [True] for result in results[2:])
    assert service.users == {str(u) for u in range(30) if results[u] == [True]}  # 29 users
    assert len(service.users) == 29
    results = asyncio.run(scenario(poison=True))
    assert trips == [30, 31]
    assert results[0] == results[1] == [False]  # "same" was stored by the first group
    assert all(result == [True] for result in results[2:30])
    assert isinstance(results[30], OverflowError)  # alone: the others were stored
    assert {e.event_id for e in store.all_events()} == {
        "same", *(f"e{u}" for u in (*range(2, 30), *range(102, 130)))}
