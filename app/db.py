"""Engine, sessions and write transactions.

Views and tasks get a session from `db_session()` (one per app context). A use case
wraps its changes in `write_transaction(session)`: one database transaction that
commits at the end or rolls back on any error. On SQLite the first write takes the
write lock (BEGIN IMMEDIATE) so writers queue instead of deadlocking; money moves by
conditional UPDATEs (`balance >= amount`), safe on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        # pysqlite opens a write transaction with BEGIN IMMEDIATE at the first INSERT/UPDATE/DELETE,
        # so two writers queue on the busy timeout instead of deadlocking on a lock upgrade.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": "IMMEDIATE"}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping (a round trip per request); connections are recycled every 30 minutes instead.
    return create_engine(url, pool_recycle=1800, pool_size=10, max_overflow=10, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def db_session() -> Session:
    """The session of the current app context (request, task or CLI command)."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def close_db_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


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
    if session.in_transaction():
        # End a read-only transaction the view started, so the write begins fresh.
        session.rollback()
    session.info["write_depth"] = 1
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info["write_depth"] = 0


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the current transaction commits (e.g. queue an email)."""
    session.info.setdefault("on_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session):
    callbacks = session.info.pop("on_commit", [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session):
    session.info.pop("on_commit", None)
