"""Docker HEALTHCHECK for both roles of the image; exit 0 when healthy, 1 otherwise.

The role is read from PID 1's command line (the entrypoint execs ``python3 -m nodes`` or
``python3 -m balancer``), so one HEALTHCHECK line serves both. The balancer is checked on its
admin listener (``/_lb/status``, which the public port does not serve); with none
(``BALANCER_ADMIN_PORT=0``), a TCP connect to its public port has to do. The node is checked
for liveness (``/healthz``), not readiness: an orchestrator that replaces unhealthy tasks must
not restart every node because Redis is briefly away or a node is draining.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request

WILDCARDS = ("", "0.0.0.0", "::")


def url() -> str:
    """What to GET; a ``tcp://`` URL: only connect (a balancer without an admin listener)."""
    with open("/proc/1/cmdline", "rb") as cmdline:
        argv = cmdline.read().split(b"\0")
    env = os.environ
    if b"balancer" not in argv:
        return f"http://127.0.0.1:{env.get('NODE_PORT') or '8000'}/healthz"
    admin_port = env.get("BALANCER_ADMIN_PORT") or "9901"
    if admin_port.strip() == "0":
        return f"tcp://127.0.0.1:{env.get('BALANCER_PORT') or '8080'}"
    host = env.get("BALANCER_ADMIN_HOST", "").strip()
    host = "127.0.0.1" if host in WILDCARDS else f"[{host}]" if ":" in host else host
    return f"http://{host}:{admin_port}/_lb/status"


def main() -> int:
    target = url()
    try:
        if target.startswith("tcp://"):
            host, _, port = target[len("tcp://") :].rpartition(":")
            socket.create_connection((host, int(port)), timeout=2).close()
            return 0
        with urllib.request.urlopen(target, timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
