"""``python -m nodes``: one API node, configured by environment variables only."""

from __future__ import annotations

import asyncio
import sys

from cluster import jsonlog
from nodes.config import ConfigError, NodeConfig
from nodes.lifecycle import serve


def main() -> int:
    try:
        config = NodeConfig.from_env()
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    jsonlog.configure("node", config.node_name, config.log_level)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
