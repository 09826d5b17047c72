"""SQLite with group commit: every write is a function run by one writer thread, which commits
whatever is waiting in one transaction (one fsync for many concurrent requests), each function
in its own savepoint so a failing one does not undo the others. A write returns once committed.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    work: Callable[[sqlite3.Connection], T]
    result: T | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Database:
    """SQLite in WAL mode with synchronous=FULL (a commit survives kill -9 and power loss).
    Writes: `write(fn)` through the writer thread. Reads: one connection per thread (WAL:
    readers see the last commit and never block the writer)."""

    def __init__(self, path: str, setup: Callable[[sqlite3.Connection], None]) -> None:
        self.path = path
        self._db = self._connect()
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ConfigError(f"{self.path}: SQLite refused WAL mode (got {mode})")
        setup(self._db)  # the tables, created or brought up to date
        self._readers = threading.local()  # one read connection per thread: no lock
        self._all_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def close(self) -> None:
        self._jobs.put(None)
        self._writer.join(10)
        with self._readers_lock:
            for reader in self._all_readers:
                with contextlib.suppress(Exception):
                    reader.close()

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        job = _Job(work)
        self._jobs.put(job)
        job.done.wait()
        if isinstance(job.error, BaseException):
            raise job.error
        return job.result  # type: ignore[return-value]

    def _write_loop(self) -> None:
        db = self._db
        while True:
            first = self._jobs.get()
            if first is None:
                db.close()
                return
            jobs = [first]
            while len(jobs) < 512:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)  # close after this group
                    break
                jobs.append(job)
            try:
                db.execute("BEGIN IMMEDIATE")
                for i, job in enumerate(jobs):
                    db.execute(f"SAVEPOINT job{i}")
                    try:
                        job.result = job.work(db)
                        db.execute(f"RELEASE job{i}")
                    except Exception as exc:
                        db.execute(f"ROLLBACK TO job{i}")
                        db.execute(f"RELEASE job{i}")
                        job.error = exc
                db.execute("COMMIT")
            except Exception as exc:  # the commit itself failed: nothing of the group holds
                with contextlib.suppress(Exception):
                    db.execute("ROLLBACK")
                for job in jobs:
                    job.error = exc
            for job in jobs:
                job.done.set()

    def read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        reader = getattr(self._readers, "db", None)
        if reader is None:
            reader = self._readers.db = self._connect()
            with self._readers_lock:
                self._all_readers.append(reader)
        return reader.execute(sql, args).fetchall()
