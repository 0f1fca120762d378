"""`livecheck serve`: config -> app -> Hypercorn. Bad config or models end the process with a clear message."""

from __future__ import annotations

import asyncio
import math
import signal
import sys

from models import ModelError
from webapp.config import ConfigError, ServiceConfig, load_config

EXIT_CONFIG = 2


def hypercorn_config(config: ServiceConfig):  # type: ignore[no-untyped-def]
    from hypercorn.config import Config

    hc = Config()
    hc.bind = [config.listen]
    hc.accesslog = None
    hc.errorlog = "-"
    hc.keep_alive_timeout = config.server.keep_alive_timeout_s
    hc.read_timeout = max(1, math.ceil(config.server.read_timeout_s))  # Hypercorn wants whole seconds
    return hc


def serve(config_path: str | None = None, listen: str | None = None, models_dir: str | None = None) -> int:
    try:
        config = load_config(config_path, listen=listen, models_dir=models_dir)
    except ConfigError as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from hypercorn.asyncio import serve as hypercorn_serve

    from webapp.app import create_app

    try:
        app = create_app(config)
    except (ModelError, ConfigError) as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    keyless = [name for name, api in (("findface", config.findface), ("silent", config.silent)) if not api.require_key]
    print(f"livecheck: serving on http://{config.listen} ({config.server.workers} workers, "
          f"{len(config.api_keys)} API keys)"
          + (f"; WITHOUT API KEY: {', '.join(keyless)} (require-key = false)" if keyless else ""), file=sys.stderr)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hypercorn_serve(app, hypercorn_config(config), shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(run())
    return 0
