"""livecheck-client: what an integrator's backend needs from a livecheck server (depends on httpx only).

async with LiveCheckClient("https://livecheck.example", api_key) as lc:
    created = await lc.create_session(actions=["turn_left", "smile"], allowed_origins=["https://shop.example"])
    ...  # hand created.widget_url to the page (embed.js / @livecheck/widget)
    session = await lc.wait_for_result(created.session_id)
    claims = lc.verify(session)   # the signed result: HS256 JWS, checked by the standard's rules
"""

from livecheck_client.client import (
    CreatedSession,
    LiveCheckApiError,
    LiveCheckClient,
    Session,
    SyncLiveCheckClient,
    Warning,
)
from livecheck_client.verify import ResultClaims, ResultVerifier, SignatureError, derived_signing_key

__all__ = [
    "CreatedSession",
    "LiveCheckApiError",
    "LiveCheckClient",
    "ResultClaims",
    "ResultVerifier",
    "Session",
    "SignatureError",
    "SyncLiveCheckClient",
    "Warning",
    "derived_signing_key",
]
