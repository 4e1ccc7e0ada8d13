"""A small bounded memo that every session shares: results keyed by what they were computed from.

The library keeps these rather than each session's page: every browser session that shows
the shipped weights holds the same model object, so its weights' fingerprint
(`cnnviz.model.weights_fingerprint`) is the same, and a filter's picture that one session
paid seconds for is there for the rest of the room. A session's own model gets a new
fingerprint after every epoch, so its old entries are never served again; the bound lets
the oldest go instead of keeping them for the life of the server.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Memo(Generic[T]):
    """At most `keep` results, the least recently used dropped first; safe across threads.

    Two sessions asking for the same missing key at once compute it once: the second waits
    for the first (a per-key lock), which is what a room arriving at one filter does.
    """

    def __init__(self, keep: int):
        self.keep = keep
        self._found: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._found)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._found

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._found:
                self._found.move_to_end(key)
                return self._found[key]
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            with self._lock:
                if key in self._found:  # computed by whoever held the key's lock before us
                    self._found.move_to_end(key)
                    return self._found[key]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._computing.pop(key, None)
                raise
            with self._lock:
                self._found[key] = value
                self._computing.pop(key, None)
                while len(self._found) > self.keep:
                    self._found.popitem(last=False)
            return value
