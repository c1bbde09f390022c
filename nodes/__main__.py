"""``python -m nodes``: one API node, configured by environment variables only."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Coroutine
from typing import Any

from nodes.config import ConfigError, NodeConfig
from nodes.lifecycle import CannotListen, serve
from nodes.logs import (
    buffer_logs,
    drain_all,
    fast_records,
    keep_draining,
    quiet_client_protocol_errors,
)
from servicekit import jsonlog


async def _serve_with_logs(config: NodeConfig) -> None:
    buffers = buffer_logs()
    drainer = asyncio.create_task(keep_draining(buffers))
    try:
        await serve(config)
    finally:
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
        drain_all(buffers)


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main() -> int:
    try:
        config = NodeConfig.from_env()
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    jsonlog.configure("node", config.node_name, config.log_level)
    fast_records()
    quiet_client_protocol_errors()
    try:
        _run(_serve_with_logs(config))
    except CannotListen as exc:  # one line, like the balancer; the logs are drained already
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
