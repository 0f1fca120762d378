"""FindFace return_detection: the best face of a request, kept briefly in the session store so a client can fetch
it from any node. Expiring (detection-ttl-s); nothing is written but what the client asked for."""

from __future__ import annotations

import secrets
from typing import Any

from realtime.store import SessionStore

KIND = "detection"


class DetectionCache:
    def __init__(self, store: SessionStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s

    async def put(self, detection: dict[str, Any]) -> str:
        detection_id = secrets.token_urlsafe(16)
        await self.store.put_item(KIND, detection_id, detection, self.ttl_s)
        return detection_id

    async def get(self, detection_id: str) -> dict[str, Any] | None:
        return await self.store.get_item(KIND, detection_id)

    async def count(self) -> int:
        return await self.store.count_items(KIND)
