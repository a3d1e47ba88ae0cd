"""Engine, sessions and write transactions.

Views and tasks get a session from `db_session()` (one per app context). A use case
wraps its changes in `write_transaction(session)`: one database transaction that
commits at the end or rolls back on any error. On SQLite the first write takes the
write lock (BEGIN IMMEDIATE) so writers queue instead of deadlocking; money moves by
conditional UPDATEs (`balance >= amount`), safe on SQLite and PostgreSQL alike.

SQLite has one writer at a time, and a writer that finds the database locked polls for it
(sleeps of 1, 2, 5 … 100 ms): under load most of a write's time went to those sleeps. So
`write_transaction` on SQLite first queues for `SqliteWriters`, a lock every process of this
machine shares (flock on `<database>.write-lock`), and the database's own lock is then free.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def make_engine(url: str, *, pool_size: int = 10, **kwargs) -> Engine:
    """The engine for `url`. PostgreSQL keeps up to `pool_size` connections open and as many again in a burst:
    a web process's threads, or a worker's (`flask worker` sizes it to its threads, so none waits for a connection)."""
    if url.startswith("sqlite"):
        # pysqlite opens a write transaction with BEGIN IMMEDIATE at the first INSERT/UPDATE/DELETE,
        # so two writers queue on the busy timeout instead of deadlocking on a lock upgrade.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": "IMMEDIATE"}, **kwargs
        )
        _configure_sqlite(engine)
        database = engine.url.database
        _SQLITE_WRITERS[engine] = SqliteWriters(database if database and database != ":memory:" else None)
        return engine
    # Pre-ping: a connection the server dropped (a restart, a failover, pg_terminate_backend, an idle timeout
    # in between) is found and replaced when it leaves the pool, instead of failing the request that got it.
    # It costs one short round trip per checkout (tests/reliability, scenario 4). Recycled every 30 minutes too.
    return create_engine(url, pool_pre_ping=True, pool_recycle=1800, pool_size=pool_size, max_overflow=pool_size, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


class SqliteWriters:
    """Write transactions on one SQLite file, one at a time: threads queue on a lock, processes on a flock.

    Waiters sleep in the kernel and wake the moment the lock is free (no polling). Re-entrant within a
    thread (a second session's write transaction inside the first's). Without a file (in-memory) only threads queue.
    """

    def __init__(self, database: str | None):
        self.path = database + ".write-lock" if database else None
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._fd_pid = 0

    def _file(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():  # a forked process opens its own (a shared one would not exclude)
            if self._fd is not None:
                self._closer()  # the parent's copy; the parent keeps its own
            self._fd, self._fd_pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            self._closer = weakref.finalize(self, os.close, self._fd)  # closed with its engine
        return self._fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._threads:
            if self._depth == 0 and self.path:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self.path:
                    fcntl.flock(self._file(), fcntl.LOCK_UN)


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, SqliteWriters] = weakref.WeakKeyDictionary()


@contextmanager
def _writers_of(session: Session) -> Iterator[None]:
    writers = _SQLITE_WRITERS.get(session.get_bind())
    if writers is None:
        yield
    else:
        with writers.hold():
            yield


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def reads_engine(writes: Engine) -> Engine:
    """Where a session reads outside `write_transaction`. PostgreSQL: autocommit, so a page's reads
    cost no BEGIN and ROLLBACK round trips; each statement sees what is committed, as it would in
    a READ COMMITTED transaction. SQLite begins no transaction for reads anyway: the engine itself."""
    if writes.dialect.name != "postgresql":
        return writes
    reads = writes.execution_options(isolation_level="AUTOCOMMIT")
    _WRITES_ENGINE[reads] = writes
    return reads


_WRITES_ENGINE: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def db_session() -> Session:
    """The session of the current app context (request, task or CLI command)."""
    if "db_session" not in g:
        extensions = current_app.extensions
        g.db_session = Session(extensions.get("db_reads_engine") or engine(), expire_on_commit=False)
    return g.db_session


def close_db_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def remember(session: Session, key, value) -> None:
    """Keep something this request read (e.g. balances read along with the consumer) until it writes."""
    session.info.setdefault("read_snapshot", {})[key] = value


def remembered(session: Session, key):
    """What `remember` kept, or None; a write transaction forgets everything (it may change it)."""
    return session.info.get("read_snapshot", {}).get(key)


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """One use case, one transaction. Nested calls join the outer transaction."""
    depth = session.info.get("write_depth", 0)
    if depth:
        session.info["write_depth"] = depth + 1
        try:
            yield session
        finally:
            session.info["write_depth"] = depth
        return
    session.info.pop("read_snapshot", None)
    if session.in_transaction():
        # End a read-only transaction the view started, so the write begins fresh.
        session.rollback()
    reads = session.bind
    writes = _WRITES_ENGINE.get(reads) if reads is not None else None
    if writes is not None:
        session.bind = writes  # a real transaction for the writes (reads_engine's sessions autocommit)
    with _writers_of(session):
        session.info["write_depth"] = 1
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info["write_depth"] = 0
            if writes is not None:
                session.bind = reads
    # What waited for the commit (queueing tasks, emails) runs once the next writer may go on.
    for callback in session.info.pop("committed", []):
        callback()


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the current transaction commits (e.g. queue an email)."""
    session.info.setdefault("on_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session):
    callbacks = session.info.pop("on_commit", [])
    if session.info.get("write_depth"):  # write_transaction's commit: it runs them after releasing its lock
        session.info["committed"] = callbacks
        return
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session):
    session.info.pop("on_commit", None)
