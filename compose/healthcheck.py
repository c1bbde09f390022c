"""Docker HEALTHCHECK for both roles of the image; exit 0 when healthy, 1 otherwise.

The role is read from PID 1's command line (the entrypoint execs ``python3 -m nodes`` or
``python3 -m balancer``), so one HEALTHCHECK line serves both. The node is checked for liveness
(``/healthz``), not readiness: an orchestrator that replaces unhealthy tasks must not restart
every node because Redis is briefly away or a node is draining.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def url() -> str:
    with open("/proc/1/cmdline", "rb") as cmdline:
        argv = cmdline.read().split(b"\0")
    if b"balancer" in argv:
        return f"http://127.0.0.1:{os.environ.get('BALANCER_PORT', '8080')}/_lb/status"
    return f"http://127.0.0.1:{os.environ.get('NODE_PORT', '8000')}/healthz"


def main() -> int:
    try:
        with urllib.request.urlopen(url(), timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
