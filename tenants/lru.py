"""The bounded, thread-safe LRU that the per-process caches of the request path share
(``tenants.membership_cache``, ``tenants.token_cache``): entries and their lock; each
cache adds its own key, value and validity rule."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K")
V = TypeVar("V")


class LockedLRU(Generic[K, V]):
    def __init__(self, maxsize: int) -> None:
        self._entries: LRUCache[K, V] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
