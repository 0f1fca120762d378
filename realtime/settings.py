"""Settings of live checks ([realtime] in the config file)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RealtimeSettings:
    max_sessions: int = 8  # concurrent live checks; the next one is refused, not degraded
    session_ttl_s: float = 600.0  # a created session must start within this
    check_timeout_s: float = 60.0  # a started check must finish within this
    analysis_fps: float = 15.0  # frames analyzed per second per session (newer frames replace older ones)
    antispoof_every: int = 3  # anti-spoof on every Nth analyzed frame
    action_count: int = 3
    action_timeout_s: float = 8.0  # per-action deadline
    min_reaction_ms: int = 300  # an action completed sooner than this after its prompt does not count
    ice_host_addresses: tuple[str, ...] = ()  # e.g. ("127.0.0.1",) for loopback-only tests; () = aioice default
    stun_servers: tuple[str, ...] = ()  # e.g. ("stun:stun.example.org:3478",)
    turn_servers: tuple[str, ...] = ()  # "turn:host:port?transport=udp" (credentials below)
    turn_username: str = ""
    turn_password: str = ""
