"""The feedback store alone, in process: N threads each storing single events for a few
seconds on a fresh SQLite file (or a PostgreSQL URL); prints writes and commits per second,
which shows how many writes group commit puts in one transaction.

    python -m benchmarks.bench_store [--threads 1,6,16] [--seconds 5] [--url sqlite:///...]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

from sqlalchemy import event

from recommender_core.feedback_store import Event, FeedbackStore


def measure(url: str, threads: int, seconds: float) -> tuple[float, float]:
    store = FeedbackStore(url)
    store.open()
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _connection: commits.append(1))
    stop = time.monotonic() + seconds
    written = [0] * threads

    def work(worker: int) -> None:
        i = 0
        while time.monotonic() < stop:
            store.add([Event(10_000_000 + worker * 1000 + i % 1000, 1 + i % 500, 4.0, 1)])
            i += 1
        written[worker] = i

    workers = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    store.close()
    return sum(written) / seconds, len(commits) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,6,16")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--url", default=None, help="default: a fresh SQLite file per run")
    args = parser.parse_args()
    for threads in (int(t) for t in args.threads.split(",")):
        url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='bench-store-')}/f.sqlite"
        writes, commits = measure(url, threads, args.seconds)
        print(f"{threads} threads: {writes:,.0f} writes/s, {commits:,.0f} commits/s "
              f"({writes / max(commits, 1):.1f} writes per commit)")


if __name__ == "__main__":
    main()
