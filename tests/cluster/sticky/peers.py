"""The real peers check-sticky is tested against, each started on free loopback ports.

- ``Backends``: three tiny ``http.server`` apps in threads, answering ``X-Served-By: bN`` and
  ``{"node": "bN"}``; b1 also sets its own ``app_session`` cookie, which pins nothing.
- ``Balancer``: this project's ``python -m balancer`` over them (round robin).
- ``HAProxy`` and ``Nginx``: configured by the tests, foreground, files in a temp dir.

Every process here is one this module started, stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[3]
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _handler(name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the balancers' upstream pools expect

        def do_GET(self) -> None:
            body = json.dumps({"node": name, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("X-Served-By", name)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if name == "b1":  # the app's own session cookie: must not pass for stickiness
                self.send_header("Set-Cookie", f"app_session={time.monotonic_ns()}; Path=/")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # HAProxy resets the idle keep-alive connections it holds to a server when it closes
        # them: http.server would print a traceback for each.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Backends:
    """``count`` stand-in backends b1…bN on free loopback ports, served from threads."""

    def __init__(self, count: int = 3) -> None:
        self.servers = [
            _QuietServer(("127.0.0.1", 0), _handler(f"b{i}")) for i in range(1, count + 1)
        ]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{server.server_address[1]}" for server in self.servers]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@contextmanager
def process(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``argv`` until the block ends; yield its URL once ``port`` accepts connections."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_for_port("127.0.0.1", port, timeout=15)
            except TimeoutError:
                log.seek(0)
                raise AssertionError(f"{argv[0]} did not listen: {log.read().decode()}") from None
            yield f"http://127.0.0.1:{port}/"
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process this module started (its pid, nothing found by name), then KILL."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def balancer(backends: Backends, env: dict[str, str] | None = None) -> Iterator[str]:
    """This project's balancer in front of ``backends``, once it reports every one up; ``env``
    adds settings (``BALANCER_STICKY=cookie``)."""
    port, admin = free_port(), free_port()
    settings = {k: v for k, v in os.environ.items() if not k.startswith("BALANCER_")}
    settings |= {
        "BALANCER_HOST": "127.0.0.1",
        "BALANCER_PORT": str(port),
        "BALANCER_ADMIN_PORT": str(admin),
        "BALANCER_BACKENDS": ",".join(f"http://{a}" for a in backends.addresses),
        "BALANCER_HEALTH_INTERVAL": "0.1",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    with process([sys.executable, "-m", "balancer"], port, settings) as url:
        _wait_all_up(f"http://127.0.0.1:{admin}/_lb/status", len(backends.servers))
        yield url


def _wait_all_up(status_url: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with urllib.request.urlopen(status_url, timeout=2) as response:
            states = [b["state"] for b in json.load(response)["backends"]]
        if states.count("up") == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the balancer's backends did not all come up: {states}")


@contextmanager
def haproxy(backends: Backends, mode: str) -> Iterator[str]:
    """HAProxy over ``backends``; ``mode``: ``roundrobin``, ``source`` or ``cookie``
    (``cookie SRV insert indirect nocache`` on round robin)."""
    port = free_port()
    cookie = mode == "cookie"
    servers = "\n".join(
        f"    server b{i} {address}" + (f" cookie s{i}" if cookie else "")
        for i, address in enumerate(backends.addresses, 1)
    )
    config = f"""
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend front
    bind 127.0.0.1:{port}
    default_backend back
backend back
    balance {"roundrobin" if cookie else mode}
{"    cookie SRV insert indirect nocache" if cookie else ""}
{servers}
"""
    with tempfile.TemporaryDirectory(prefix="sc-haproxy-") as tmp:
        path = Path(tmp, "haproxy.cfg")
        path.write_text(config)
        with process([HAPROXY, "-db", "-f", str(path)], port) as url:
            yield url


@contextmanager
def nginx(backends: Backends, ip_hash: bool) -> Iterator[str]:
    """nginx over ``backends``, round robin or ``ip_hash``; every path it writes is in a temp
    dir, so it needs no root path."""
    port = free_port()
    servers = "\n".join(f"        server {address};" for address in backends.addresses)
    with tempfile.TemporaryDirectory(prefix="sc-nginx-") as tmp:
        temps = " ".join(
            f"{kind}_temp_path {tmp}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        config = f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    {temps}
    upstream back {{
        {"ip_hash;" if ip_hash else ""}
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://back; }}
    }}
}}
"""
        Path(tmp, "nginx.conf").write_text(config)
        argv = [NGINX, "-p", tmp, "-c", f"{tmp}/nginx.conf", "-e", f"{tmp}/error.log"]
        with process([*argv, "-g", "daemon off;"], port) as url:
            yield url
