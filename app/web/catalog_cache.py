"""The store's rendered catalog, kept per process.

Rendering 24 tiles is most of a catalog request, and the same search in the same store renders
the same tiles until either the partner's catalog changes (every change moves
`Partner.catalog_version` on, and each request loads the partner row anyway, so every process
notices at its next request) or a promo window on the page opens or closes (an entry carries the
moment it stops being right). Keys name the partner, its catalog version and the search, so a
stale entry is never found again; the oldest entries make room for new ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

from flask import current_app

from app.clock import utcnow


class CatalogCache:
    def __init__(self, size: int = 256):  # a page of tiles is ~20 kB: a few MB per process at most
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[Any, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: datetime) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, valid_until = entry
            if valid_until is not None and now >= valid_until:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any, valid_until: datetime | None = None) -> None:
        with self._lock:
            self._entries[key] = (value, valid_until)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def get_or_make(self, key: Hashable, make: Callable[[], tuple[Any, datetime | None]]) -> Any:
        """The cached value, or `make()`'s (value, valid until) kept and returned. Two threads missing
        at once both make it: the same value, and cheaper than holding the lock while rendering."""
        found = self.get(key, utcnow())
        if found is not None:
            return found
        value, valid_until = make()
        self.put(key, value, valid_until)
        return value


def catalog_cache() -> CatalogCache:
    """This app's cache (one per app, made in register_web: tests with their own databases never share one)."""
    return current_app.extensions["catalog_cache"]
