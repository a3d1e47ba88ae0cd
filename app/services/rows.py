"""Typing helpers for SQLModel rows. They narrow types for mypy and do nothing else.

SQLModel tables declare `id: int | None` (None until the row is flushed), and the classes do not declare
their Core `__table__`. Services use these helpers instead of scattering asserts and ignores.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table
from sqlmodel import Session, SQLModel

T = TypeVar("T", bound=SQLModel)


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def row_id(row: _Row) -> int:
    """The id of a row that is already in the database (loaded, or added and flushed)."""
    assert row.id is not None, f"{type(row).__name__} has no id yet: it is not flushed"
    return row.id


def referenced(session: Session, model: type[T], id: Any, **options: Any) -> T:
    """`session.get(model, id)` for a row that must exist (one a foreign key points at, or one just claimed)."""
    row = session.get(model, id, **options)
    assert row is not None, f"{model.__name__} {id} does not exist"
    return row


def table_of(model: type[SQLModel]) -> Table:
    """`model.__table__`, typed (SQLModel's class typing does not declare it)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # set by SQLAlchemy's declarative mapping
