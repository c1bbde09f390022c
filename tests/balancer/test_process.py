"""``python -m balancer`` as users start it: configuration errors and graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.balancer.conftest import ROOT, Backends
from tests.support import free_port


def run_balancer(env: dict[str, str]) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BALANCER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "balancer"],
        cwd=ROOT,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "BALANCER_BACKENDS"),
        (
            {"BALANCER_BACKENDS": "http://127.0.0.1:1", "BALANCER_MAX_BODY": "-5"},
            "BALANCER_MAX_BODY",
        ),
    ],
)
def test_a_bad_setting_stops_it_with_one_line(env: dict[str, str], named: str) -> None:
    proc = run_balancer(env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and lines[0].startswith("config error:")


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish(backends: Backends) -> None:
    (backend,) = backends.start(1)
    port, admin = free_port(), free_port()
    proc = run_balancer(
        {
            "BALANCER_HOST": "127.0.0.1",
            "BALANCER_PORT": str(port),
            "BALANCER_ADMIN_PORT": str(admin),
            "BALANCER_BACKENDS": backend.url,
            "BALANCER_HEALTH_INTERVAL": "0.1",
        }
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status_url = f"http://127.0.0.1:{admin}/_lb/status"
                with urllib.request.urlopen(status_url, timeout=2) as r:
                    if json.load(r)["backends"][0]["state"] == "up":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the balancer did not come up"
            time.sleep(0.1)
        result: dict[str, object] = {}

        def slow_request() -> None:
            url = f"http://127.0.0.1:{port}/echo?sleep=1.5"
            with urllib.request.urlopen(url, timeout=20) as response:
                result["status"] = response.status
                result["body"] = json.load(response)

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.5)  # the request is in flight
        proc.send_signal(signal.SIGTERM)
        thread.join(timeout=30)
        assert result.get("status") == 200
        assert proc.wait(timeout=30) == 0
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        _, err = proc.communicate(timeout=10)
        logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert any(entry["msg"] == "balancer stopped" for entry in logged)
        assert all(entry["service"] == "balancer" for entry in logged)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("which", ["BALANCER_PORT", "BALANCER_ADMIN_PORT"])
def test_a_port_in_use_is_reported(which: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "BALANCER_HOST": "127.0.0.1",
            "BALANCER_PORT": str(free_port()),
            "BALANCER_ADMIN_PORT": str(free_port()),
            "BALANCER_BACKENDS": "http://127.0.0.1:1",
        }
        proc = run_balancer({**env, which: str(port)})
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "error: cannot listen on 127.0.0.1:" in err and f"127.0.0.1:{port}" in err
