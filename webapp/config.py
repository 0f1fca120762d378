"""The service's one typed configuration: embedded defaults, then a TOML file, then environment variables.

Keys use FindFace's names (`liveness-threshold`, `max-decoded-frames`, `[limits] video-size`, ...); hyphens and
underscores are interchangeable. Every bad key or value is reported at start, all at once, with its path.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtime.settings import RealtimeSettings, StoreSettings
from realtime.store import check_store_url
from scoring.settings import ActionSettings, EngineSettings, MediaLimits
from webapp import findface_ini
from webapp.client_address import parse_networks
from webapp.huawei_auth import HuaweiAuth, parse_pairs

log = logging.getLogger("livecheck.config")


class ConfigError(Exception):
    """One message per problem, each naming the key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ServerSettings:
    workers: int = 2  # threads running decoding and inference
    queue: int = 4  # requests allowed to wait for a worker before 503 + Retry-After
    max_body_bytes: int = 16 * 1024 * 1024  # any request body, checked while it streams in
    request_timeout_s: float = 60.0  # analysis of one request; past it the answer is 503 + Retry-After
    queue_wait_s: float = 20.0  # longest wait for a worker thread before 503 + Retry-After
    body_timeout_s: float = 60.0  # receiving a whole request body (a slow upload is cut off with 408)
    read_timeout_s: float = 90.0  # a connection with no bytes from the client this long is closed; > request_timeout_s
    keep_alive_timeout_s: float = 5.0  # an idle keep-alive connection is closed after this
    detection_ttl_s: float = 300.0  # FindFace return_detection cache lifetime
    video_url_prefixes: tuple[str, ...] = ()  # Huawei video_url: allowed prefixes; empty = fetching disabled
    video_url_timeout_s: float = 10.0  # the whole video_url fetch (connect, headers, body) must end within this
    video_url_fetches: int = 2  # video_url fetches at once (their own threads); more are refused busy, not queued
    # Signed results (webapp/signing.py): "KID:SECRET" entries, the first signs; empty: a key per integrator derived
    # from its API key. Never the API key itself.
    signing_keys: tuple[str, ...] = ()
    signed_result_ttl_s: float = 300.0  # a signed result expires (exp) this long after it was read
    facia_rate_limit_per_minute: int = 0  # Facia "request limit": per key, accepted requests; 0 = off (self-hosted)
    silent_aes_key: str = ""  # 32 characters: AES-256 key for encrypted_video/encrypted_image
    silent_aes_iv: str = ""  # 12 characters: GCM nonce
    public_url: str = ""  # base URL for widget links; default: derived from the request
    # POST /v1/sessions without allowed_origins: false = created, with a `warnings` entry; true = refused (400)
    require_allowed_origins: bool = False
    landmarkers: int = 8  # landmarker instances at most (one per busy worker or live session)
    demo: bool = True  # GET / demo page and its keyless same-origin session endpoint; turn off in production
    # Reverse proxies (addresses or CIDR) whose X-Forwarded-For names the client (the demo's per-client rate);
    # empty: the TCP peer is the client, whatever the headers say.
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parse_networks(self.trusted_proxies)  # ValueError names the entry: reported with the other config problems


@dataclass(frozen=True)
class KeylessSettings:
    """`[findface]` / `[silent]`: the originals run on a private network with no credentials, and their documents'
    examples send none. require-key = false lets such a client call this API without a key (a wrong key is still
    refused); the start-up line says so. Default true: a reachable server is never silently open."""

    require_key: bool = True


@dataclass(frozen=True)
class HuaweiSettings:
    """`[huawei]`: how Huawei FRS clients authenticate (webapp.huawei_auth): token = X-Auth-Token is an API key;
    aksk = APIG SDK-HMAC-SHA256 signatures with one of `access-keys` ("AK:SK"); none = no credential at all."""

    auth: str = HuaweiAuth.TOKEN
    access_keys: tuple[str, ...] = ()  # "ACCESS_KEY:SECRET_KEY" pairs for auth = "aksk"
    max_clock_skew_s: float = 900.0  # X-Sdk-Date at most this far from the server clock (APIG allows 15 minutes)

    def __post_init__(self) -> None:
        if self.auth not in tuple(HuaweiAuth):
            raise ValueError(f"auth: expected one of {', '.join(HuaweiAuth)}, got {self.auth!r}")
        parse_pairs(self.access_keys)
        if self.auth == HuaweiAuth.AKSK and not self.access_keys:
            raise ValueError('access-keys: auth = "aksk" needs at least one ACCESS_KEY:SECRET_KEY pair')
        if not self.max_clock_skew_s > 0:
            raise ValueError("max-clock-skew-s: must be > 0")


@dataclass(frozen=True)
class ServiceConfig:
    listen: str = "127.0.0.1:8000"
    models_dir: str | None = None
    api_keys: tuple[str, ...] = ()
    engine: EngineSettings = field(default_factory=EngineSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    findface: KeylessSettings = field(default_factory=KeylessSettings)
    silent: KeylessSettings = field(default_factory=KeylessSettings)
    huawei: HuaweiSettings = field(default_factory=HuaweiSettings)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host or "127.0.0.1", int(port)


# Top-level FindFace keys that live in EngineSettings, and FindFace's [extraction-api] table.
_ENGINE_KEYS = {f.name for f in dataclasses.fields(EngineSettings)} - {"limits", "actions"}


def _norm(key: str) -> str:
    return key.strip().replace("-", "_")


def _coerce(value: Any, hint: Any, path: str, problems: list[str]) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], path, problems)
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list")
            return ()
        return tuple(_coerce(v, typing.get_args(hint)[0], path, problems) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        problems.append(f"{path}: expected true or false, got {value!r}")
        return False
    if hint in (int, float):
        try:
            if isinstance(value, bool):
                raise ValueError
            number = hint(value)
            if hint is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return number
        except (TypeError, ValueError):
            problems.append(f"{path}: expected {'an integer' if hint is int else 'a number'}, got {value!r}")
            return None
    if hint is str:
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {value!r}")
        return str(value)
    return value


def _build(cls: type, values: Mapping[str, Any], path: str, problems: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = _norm(raw_key)
        where = f"{path}{raw_key}"
        if key not in names:
            problems.append(f"{where}: unknown key")
            continue
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                problems.append(f"{where}: expected a table")
                continue
            kwargs[key] = _build(hint, value, f"{where}.", problems)
            continue
        coerced = _coerce(value, hint, where, problems)
        if coerced is not None or value is None:
            kwargs[key] = coerced
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        problems.append(f"{path.rstrip('.') or 'config'}: {exc}")
        return cls()


def _reshape(data: Mapping[str, Any]) -> dict[str, Any]:
    """Maps FindFace's flat layout onto the nested dataclasses."""
    out: dict[str, Any] = {}
    engine: dict[str, Any] = dict(data.get("engine", {}))
    for raw_key, value in data.items():
        key = _norm(raw_key)
        if key == "engine":
            continue
        if key in _ENGINE_KEYS:
            engine[raw_key] = value
        elif key == "limits":
            engine["limits"] = value
        elif key == "actions":
            engine["actions"] = value
        elif key == "extraction_api":
            for sub_key, sub_value in dict(value).items():
                engine[sub_key] = sub_value
        else:
            out[raw_key] = value
    if engine:
        out["engine"] = engine
    return out


ENV_PREFIX = "LIVECHECK_"


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """LIVECHECK_API_KEYS, LIVECHECK_LISTEN, LIVECHECK_MODELS, and LIVECHECK_<SECTION>__<KEY> for any key."""
    out: dict[str, Any] = {}
    if environ.get("LIVECHECK_API_KEYS"):
        out["api_keys"] = environ["LIVECHECK_API_KEYS"]
    if environ.get("LIVECHECK_LISTEN"):
        out["listen"] = environ["LIVECHECK_LISTEN"]
    if environ.get("LIVECHECK_MODELS"):
        out["models_dir"] = environ["LIVECHECK_MODELS"]
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """TOML, or FindFace's own `key: value` file (findface-liveness-api.ini) as it is (webapp.findface_ini)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    if str(path).endswith(".ini") or findface_ini.looks_like_ini(text):
        try:
            found = findface_ini.parse(text, str(path))
        except ValueError as exc:
            raise ConfigError([str(exc)]) from None
        for warning in found.warnings:
            log.warning("%s: %s", path, warning)
        return found.data
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> ServiceConfig:
    """Defaults < file < environment < explicit overrides (CLI flags). Raises ConfigError listing every problem."""
    problems: list[str] = []
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_file(path)
    shaped = _reshape(data)
    env = _reshape(_from_env(os.environ if environ is None else environ))
    shaped = _merge(_merge(shaped, env), {k: v for k, v in overrides.items() if v is not None})
    config = _build(ServiceConfig, shaped, "", problems)
    if problems:
        raise ConfigError(problems)
    try:
        _ = config.host_port  # parses listen
    except ValueError:
        raise ConfigError([f"listen: expected HOST:PORT, got {config.listen!r}"]) from None
    store = config.store
    problem = check_store_url(store.url) if store.url else None
    problems = [f"store.url: {problem}"] if problem else []
    if not 0 < store.heartbeat_s < store.node_lost_s:
        problems.append("store.heartbeat-s: must be > 0 and shorter than store.node-lost-s")
    if problems:
        raise ConfigError(problems)
    return config


__all__ = [
    "ActionSettings",
    "ConfigError",
    "EngineSettings",
    "HuaweiSettings",
    "MediaLimits",
    "ServerSettings",
    "ServiceConfig",
    "StoreSettings",
    "load_config",
]
