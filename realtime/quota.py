"""The demo page's own quota: the keyless path never reaches integrators' capacity.

Demo sessions are capped on their own (open sessions and running checks are counted apart from integrators', and
never against `[store] max-live-checks`), each client may create only so many per minute, and one client may hold
only its share of the open places (`demo-max-open-per-client`), so one address cannot keep everyone else out.
A script that sends `Origin` equal to the host (any script
can) gets the demo's small share at most, never a slot an integrator's check needs.

The per-client rate and the cap on open sessions are the cluster's: both live in the session store and are
checked and taken in one atomic step (SessionStore.admit), so N nodes (or `serve --processes N`) do not hand out N
shares. The cap on running demo checks stays per node: what bounds it is the node's own CPU (its landmarkers and
worker threads), and across the cluster the open-session cap bounds it too (a check needs an open session).
Nothing here is kept per client in process memory; the store keeps a client's window for one minute at most.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass

from realtime.errors import SessionCode, SessionError
from realtime.store import Limit, SessionStore, Ticket

WINDOW_S = 60.0
OPEN_ITEM = "demo-open"  # store item per open demo session (key: the session id)
IPV6_PREFIX = 64  # one IPv6 client is its /64: a home line gets 2**64 addresses, one rate limit


@dataclass(frozen=True)
class DemoLimits:
    max_open: int  # demo sessions created and not yet decided or expired, in the whole cluster
    max_live: int  # demo checks running at once on one node (WebRTC peers with a landmarker)
    per_client_per_minute: int  # in the whole cluster
    max_open_per_client: int = 0  # of max_open, what one client may hold at once (0: no share of its own)


def client_key(address: str) -> str:
    """Whose rate window a request counts against: its peer address (never a forwarded header, which any script
    sets), an IPv6 address by its /64, an IPv4-mapped IPv6 address as the IPv4 one. A digest, so every key has one
    length whatever the transport reports (the digest does not hide an address: there are too few)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        name = address
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if isinstance(ip, ipaddress.IPv6Address):
            name = str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
        else:
            name = str(ip)
    return "demo:" + hashlib.sha256(name.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DemoQuota:
    """The demo's limits on the session store every node shares; the running-checks cap on this node's counts."""

    store: SessionStore
    limits: DemoLimits
    hold_s: float  # the longest a demo session stays open: its ttl plus one whole check

    async def admit(self, client: str, session_id: str) -> None:
        """Raises demo_rate_limited (429) or demo_busy (503) having recorded nothing; otherwise records the
        creation against `client` and counts `session_id` open (until release() or hold_s)."""
        answer = await self.store.admit(
            Ticket(
                rate_key=client_key(client),
                rate_limit=self.limits.per_client_per_minute,
                window_s=WINDOW_S,
                kind=OPEN_ITEM,
                key=session_id,
                cap=self.limits.max_open,
                ttl_s=self.hold_s,
                share=self.limits.max_open_per_client,
            )
        )
        if answer.refused == Limit.RATE:
            raise SessionError(
                SessionCode.DEMO_RATE_LIMITED,
                "Too many demo checks from this address; try again shortly.",
                429,
                retry_after_s=max(1, math.ceil(answer.retry_after_s)),
            )
        if answer.refused == Limit.SHARE:  # this address holds its share: the others' places stay theirs
            raise SessionError(
                SessionCode.DEMO_RATE_LIMITED,
                "This address already holds its share of the demo's places; finish or wait for one of them.",
                429,
                retry_after_s=10,
            )
        if answer.refused == Limit.CAP:
            raise SessionError(SessionCode.DEMO_BUSY, "The demo is busy; try again shortly.", 503, retry_after_s=10)

    async def release(self, session_id: str) -> None:
        """The session was decided (on whichever node): its place is free for the next visitor."""
        await self.store.drop_item(OPEN_ITEM, session_id)

    async def open_sessions(self) -> int:
        """Demo sessions open in the whole cluster."""
        return await self.store.count_items(OPEN_ITEM)

    def check_live(self, live_demo_checks: int) -> None:
        """This node's demo checks (bounded by its CPU, so per node)."""
        if live_demo_checks >= self.limits.max_live:
            raise SessionError(
                SessionCode.TOO_MANY_SESSIONS,
                "Too many demo checks are running; try again shortly.",
                503,
                retry_after_s=5,
            )
