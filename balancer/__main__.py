"""``python -m balancer``: configured only by the environment (see ``config``)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable

from balancer.app import create_balancer
from balancer.config import BalancerConfig, ConfigError
from servicekit import jsonlog


async def serve(config: BalancerConfig) -> None:
    balancer = create_balancer(config)
    await balancer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await balancer.stop()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main() -> None:
    try:
        config = BalancerConfig.from_env()
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    jsonlog.configure("balancer", f"{config.host}:{config.port}", config.log_level)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(serve(config))
        except OSError as exc:  # a listening socket: address in use, not permitted …
            admin = f"{config.admin_host}:{config.admin_port}" if config.admin_port else "none"
            where = f"{config.host}:{config.port} (admin listener: {admin})"
            print(f"error: cannot listen on {where}: {exc}", file=sys.stderr)
            raise SystemExit(1) from None


if __name__ == "__main__":
    main()
