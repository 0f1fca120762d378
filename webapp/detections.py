"""FindFace return_detection: the best face of a request, kept briefly in the session store so a client can fetch
it from any node. Expiring (detection-ttl-s); nothing is written but what the client asked for. A detection belongs
to the API key that made it (its public fingerprint is kept with it): another key reads it as unknown."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from realtime.store import SessionStore

KIND = "detection"
OWNER = "_owner"  # the fingerprint of the key that made it ("" for a keyless FindFace client)


class DetectionCache:
    def __init__(self, store: SessionStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s

    async def put(self, detection: dict[str, Any], owner: str) -> str:
        detection_id = secrets.token_urlsafe(16)
        await self.store.put_item(KIND, detection_id, {**detection, OWNER: owner}, self.ttl_s)
        return detection_id

    async def get(self, detection_id: str, owner: str) -> dict[str, Any] | None:
        """The detection without its owner field, or None when it is unknown, expired or another key's."""
        found = await self.store.get_item(KIND, detection_id)
        if found is None or not hmac.compare_digest(str(found.get(OWNER, "")), owner):
            return None
        found.pop(OWNER, None)
        return found

    async def count(self) -> int:
        return await self.store.count_items(KIND)
