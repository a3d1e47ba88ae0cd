"""A bulk upload's states: checking -> checked -> committing -> committed, or failed (while checking or committing)."""

from __future__ import annotations

from enum import StrEnum


class UploadStatus(StrEnum):
    CHECKING = "checking"
    CHECKED = "checked"
    COMMITTING = "committing"
    COMMITTED = "committed"
    FAILED = "failed"

    @property
    def is_working(self) -> bool:
        """Whether a task is still reading or committing the file (the page polls until it isn't)."""
        return self in (UploadStatus.CHECKING, UploadStatus.COMMITTING)
