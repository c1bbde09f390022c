"""``python -m nodes``: one API node, configured by environment variables only."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from cluster import jsonlog
from nodes.config import ConfigError, NodeConfig
from nodes.lifecycle import serve
from nodes.logs import log_in_background


def main() -> int:
    try:
        config = NodeConfig.from_env()
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    jsonlog.configure("node", config.node_name, config.log_level)
    listener = log_in_background()
    try:
        _run(serve(config))
    finally:
        listener.stop()  # flushes what is queued
    return 0


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


if __name__ == "__main__":
    sys.exit(main())
