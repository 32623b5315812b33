"""Built leaderboard views, one per stored snapshot: a page load reuses the view (rows and figures
serialised once) instead of plotting again. A new snapshot has a new id, so nothing is ever stale.

Kept by :class:`~arena_app.services.app_services.AppServices` (one per process; it holds no user data).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
Key = Hashable  # (snapshot id, style-controlled view); the rating history: the set of snapshot ids


class ViewCache(Generic[V]):
    """A small LRU of built views by key (a snapshot id and style control, or a set of ids); thread-safe."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._views: OrderedDict[Key, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> V | None:
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
            return view

    def put(self, key: Key, view: V) -> None:
        with self._lock:
            self._views[key] = view
            self._views.move_to_end(key)
            while len(self._views) > self._size:
                self._views.popitem(last=False)
