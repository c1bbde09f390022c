"""The peers this balancer is measured against: HAProxy and nginx, configured here alike (round
robin, health checks or passive failure detection, retries on another server, 250 ms connect and
3 s response timeouts) and started as children of the benchmark.

The configurations are plain text built by pure functions; ``start_*`` writes one into the work
directory and runs the binary in the foreground.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from cluster.runtime.net import free_port
from loadtest.bench.targets import child, wait_http


def installed(name: str) -> bool:
    """On the PATH, or in /usr/sbin (where Debian puts haproxy and nginx)."""
    return shutil.which(name) is not None or Path(f"/usr/sbin/{name}").exists()


def address(server: int | str) -> str:
    """A server as HAProxy names it: a loopback port, or ``host:port`` as it is (a container)."""
    return f"127.0.0.1:{server}" if isinstance(server, int) else server


def haproxy_config(
    port: int, ports: Sequence[int | str], threads: int, server_maxconn: int | None = None
) -> str:
    """``ports``: loopback ports or ``host:port`` addresses (containers). ``server_maxconn``: at
    most that many requests at once per server, the rest wait in HAProxy's queue for ``timeout
    queue`` and then get a 503 with ``Retry-After`` (HAProxy's documented way to protect
    servers from more than they can take)."""
    limit = f" maxconn {server_maxconn}" if server_maxconn else ""
    servers = "\n".join(
        f"    server n{i} {address(p)} check inter 500ms rise 2 fall 2{limit}"
        for i, p in enumerate(ports, 1)
    )
    queue = (
        "    timeout queue 1s\n    http-error status 503 hdr Retry-After 1\n"
        if server_maxconn
        else ""
    )
    return f"""global
    maxconn 4096
{f"    nbthread {threads}" if threads else ""}
defaults
    mode http
    timeout connect 250ms
    timeout client 30s
    timeout server 3s
    retries 2
    option redispatch
    retry-on conn-failure empty-response response-timeout 502 503
    option forwardfor
{queue}frontend fe
    bind 127.0.0.1:{port}
    unique-id-format %{{+X}}o%ci%cp%fp%Ts%rt%pid
    unique-id-header X-Request-ID
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /readyz
{servers}
"""


def nginx_config(port: int, ports: list[int], threads: int, work: Path) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in ports)
    return f"""worker_processes {threads or "auto"};
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    upstream be {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 250ms;
            proxy_read_timeout 3s;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


def start_haproxy(
    stack: ExitStack,
    ports: Sequence[int | str],
    work: Path,
    threads: int,
    server_maxconn: int | None = None,
) -> tuple[int, int]:
    """HAProxy in front of ``ports``; its port and pid once it answers."""
    port = free_port()
    path = work / "haproxy.cfg"
    path.write_text(haproxy_config(port, ports, threads, server_maxconn))
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = stack.enter_context(child([binary, "-f", str(path), "-db"], log=work / "haproxy.log"))
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return port, proc.pid


def start_nginx(stack: ExitStack, ports: list[int], work: Path, threads: int) -> tuple[int, int]:
    """nginx in front of ``ports``; its port and (master) pid once it answers."""
    port = free_port()
    path = work / "nginx.conf"
    path.write_text(nginx_config(port, ports, threads, work))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [binary, "-p", str(work), "-e", f"{work}/nginx-error.log", "-c", str(path)]
    proc = stack.enter_context(child(command))
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return port, proc.pid
