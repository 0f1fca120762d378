"""FindFace return_detection: the best face of a request, kept briefly in memory so a client can fetch it.

Bounded (oldest evicted first) and expiring; nothing is written to disk.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Any, Callable


class DetectionCache:
    def __init__(self, ttl_s: float, max_items: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, detection: dict[str, Any]) -> str:
        detection_id = secrets.token_urlsafe(16)
        with self._lock:
            self._expire()
            self._items[detection_id] = (self._clock() + self.ttl_s, detection)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return detection_id

    def get(self, detection_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._expire()
            item = self._items.get(detection_id)
            return None if item is None else item[1]

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, (deadline, _) in self._items.items() if deadline <= now]:
            del self._items[key]
