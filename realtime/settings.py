"""Settings of live checks ([realtime] in the config file)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RealtimeSettings:
    max_sessions: int = 16  # concurrent live checks at most; fewer when the CPU cannot hold them (admission)
    session_ttl_s: float = 600.0  # a created session must start within this
    check_timeout_s: float = 60.0  # a started check must finish within this
    # Frames analyzed a second per check, by what the phase needs (newer frames replace older ones, never queued):
    analysis_fps: float = 10.0  # positioning, holds and prompts
    measure_fps: float = 15.0  # the light challenge and prompts of `measure-actions` (a measurement needs frames)
    measure_actions: tuple[str, ...] = ("turn_left", "turn_right", "blink")  # a turn's sweep, a blink's ~150 ms
    # Threads and admission (docs/deploy.md "Capacity"): this process's frame workers (0 = its share of the cores:
    # the cores it may run on / `serve --processes`), and a new check only while every running one keeps
    # guaranteed-fps; admit-utilisation of the frame workers may be spent at that rate (measured cost per frame,
    # or admit-frame-ms when > 0: a fixed cost, for a pinned capacity). Past it the offer is refused 503 `busy`.
    frame_workers: int = 0
    guaranteed_fps: float = 10.0
    admit_utilisation: float = 0.8
    admit_frame_ms: float = 0.0
    antispoof_every: int = 3  # anti-spoof on every Nth analyzed frame
    action_count: int = 3
    action_timeout_s: float = 8.0  # per-action deadline
    min_reaction_ms: int = 300  # an action completed sooner than this after its prompt does not count
    ice_host_addresses: tuple[str, ...] = ()  # e.g. ("127.0.0.1",) for loopback-only tests; () = aioice default
    stun_servers: tuple[str, ...] = ()  # e.g. ("stun:stun.example.org:3478",)
    turn_servers: tuple[str, ...] = ()  # "turn:host:port?transport=udp" (credentials below)
    turn_username: str = ""
    turn_password: str = ""
    # Positioning (the guide oval): face width / frame width, centre offset, light, steadiness.
    positioning_timeout_s: float = 30.0
    min_face_ratio: float = 0.18
    max_face_ratio: float = 0.8
    oval_center_tolerance: float = 0.2  # |centre - 0.5| in frame fractions (x; y gets 1.25x)
    max_frontal_deg: float = 35.0  # a face turned further is asked to look straight (mt_yongen holds pitch 26-31)
    min_brightness: float = 0.18
    max_brightness: float = 0.92
    steady_shift: float = 0.06  # bbox centre movement between analyzed frames / face width
    steady_angle_deg: float = 5.0
    steady_ms: int = 600  # the face must be steady this long before the first prompt
    min_liveness_frames: int = 5  # anti-spoof samples needed before a decision
    min_watch_ms: int = 2500  # the evidence watches a face this long before a decision (static check)
    # A stream's first frames are its encoder's and camera's start-up (VP8's first key frame reads a smile 0.38 as
    # 0.14 for ~8 frames): not evidence (docs/verdict.md "Live and recorded").
    evidence_settle_ms: int = 1000
    decide_timeout_ms: int = 5000  # after the last action, wait this long at most for enough samples
    # Passive checks (action-count 0) watch until the frames show a live 3D face (scoring.evidence) or this passes.
    passive_timeout_ms: int = 20000
    evidence_interval_ms: int = 1000  # how often a passive check recomputes the evidence while it waits
    identity_max_turn_deg: float = 8.0  # embeddings only from frames this close to the starting yaw
    identity_interval_ms: int = 700  # one SFace embedding per this interval (up to identity-samples)
    # The light challenge (docs/protocol.md "Light challenge"): the default of the session option `light`.
    light: bool = False  # off until measured on real faces and screens (the simulated camera passes it)
    light_away_ms: int = 1000  # a face out of the oval this long interrupts the colours (a fresh sequence follows)
    light_attempts: int = 3  # sequences at most; an interrupted last one is judged on what was seen
    light_max_lag_ms: int = 400  # the longest display + camera + network latency the measure aligns for
    connect_timeout_s: float = 15.0  # an answered offer that delivers no frame by then frees its slot and landmarker
    # Recording fallback (realtime/fallback.py), only for sessions created with recording_fallback: true.
    fallback_lead_min_ms: int = 2000  # the first prompt is due at a random moment in [min, max] after recording starts
    fallback_lead_max_ms: int = 3500
    fallback_gap_min_ms: int = 3500  # each prompt's window lasts a random time in [min, max]
    fallback_gap_max_ms: int = 5000
    fallback_early_ms: int = 300  # a prompt asked for this much before it is due is still given
    fallback_upload_margin_s: float = 20.0  # the recording must arrive by the schedule's end + this
    fallback_timeline_slack_ms: int = 1500  # a clip may be this much longer than the time since it started
    # The keyless demo page's own quota (realtime/quota.py); never counted against max_sessions.
    demo_max_open: int = 4  # demo sessions created and not yet decided, in the whole cluster
    demo_max_open_per_client: int = 0  # of those, what one client address may hold at once; 0 = half, rounded up
    demo_max_live: int = 2  # demo checks running at once on this node
    demo_per_client_per_minute: int = 6  # demo sessions one client address may create per minute, cluster-wide
    demo_ttl_s: float = 120.0  # a demo session must start within this


@dataclass(frozen=True)
class StoreSettings:
    """[store]: where sessions live, shared by every node that uses the same store (docs/deploy.md)."""

    url: str = (
        ""  # "" = sqlite:///<per-user data dir>/livecheck/livecheck.db; redis://HOST:PORT/DB; redis+cluster://HOST:PORT
    )
    heartbeat_s: float = 1.0  # each node writes its heartbeat this often
    node_lost_s: float = 5.0  # a node silent this long is gone: any other node fails its running checks node_lost
    max_live_checks: int = 0  # checks in progress across every node of the store; 0 = only each node's max-sessions
    result_retention_s: float = 3600.0  # a decided session (and its result) stays readable this long
