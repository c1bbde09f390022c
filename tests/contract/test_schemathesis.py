"""The OpenAPI document holds against the real node, directly and through the balancer.

schemathesis (its CLI, in a child process) runs every check with positive and negative data in
all four phases (examples, coverage, fuzzing, and the stateful phase that follows the
document's links: create an order, read it, update it with its ETag), logged in as alice
(``schemathesis.toml`` beside this file). A real ``redis-server``, a real node
(``python -m nodes``) and a real balancer (``python -m balancer``) in front of it; 0 failures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes.test_process import ROOT, Node, base_env
from tests.support import RedisServer, free_port, require

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Test cases per operation and phase; about 25 s per run on the 2-core machine, two runs.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261201")

pytestmark = pytest.mark.slow


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer 200 within {timeout} s")


class Balancer:
    """``python -m balancer`` in front of ``backend``, on free ports (admin too)."""

    def __init__(self, backend: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = base_env(
            BALANCER_HOST="127.0.0.1", BALANCER_PORT=str(self.port), BALANCER_BACKENDS=backend,
            BALANCER_ADMIN_HOST="127.0.0.1", BALANCER_ADMIN_PORT=str(free_port()),
        )  # fmt: skip
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "balancer"], env=env, cwd=ROOT, stderr=sink
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require(RedisServer.binary() is not None, "redis-server")
    redis = RedisServer()
    redis.start()
    node = Node(redis.url, tmp_path_factory.mktemp("node") / "node.log")
    try:
        wait_ready(node.url + "/readyz")
        yield node.url
    finally:
        node.stop()
        redis.stop()


@pytest.fixture(scope="module")
def balancer_url(node_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    balancer = Balancer(node_url, tmp_path_factory.mktemp("balancer") / "balancer.log")
    try:
        wait_ready(balancer.url + "/healthz")  # proxied: the node is up behind it
        yield balancer.url
    finally:
        balancer.stop()


def run_schemathesis(
    base_url: str, workdir: Path, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", f"{base_url}/openapi.json", "--checks", "all", "--mode", "all",
        "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(MAX_EXAMPLES),
        "--seed", SEED, "--workers", "1", "--request-timeout", "10",
        "--generation-database", "none", "--report", "junit", "--report-dir", str(workdir),
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=240
    )


def assert_no_failure(done: subprocess.CompletedProcess[str]) -> None:
    out = done.stdout + done.stderr
    summary = re.search(r"Test cases:\s*\n\s*(.+)", out)
    print(summary.group(1) if summary else out[-2000:])  # shown with -s: what was run
    assert done.returncode == 0, out[-20_000:]
    assert summary is not None and " passed" in summary.group(1), out[-5_000:]
    assert "failed" not in summary.group(1) and "errored" not in summary.group(1), out[-20_000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ +{phase}", out), (phase, out[-5_000:])
    links = re.search(r"API Links:\s+(\d+) covered", out)
    assert links is not None and int(links.group(1)) > 0, out[-5_000:]


def test_the_node_meets_its_openapi_document(node_url: str, tmp_path: Path) -> None:
    assert_no_failure(run_schemathesis(node_url, tmp_path))


def test_the_balancer_in_front_of_the_node_meets_it_too(balancer_url: str, tmp_path: Path) -> None:
    # The nodes' /metrics is not proxied (docs/balancer.md): the public port answers it 404,
    # which test_listeners.py checks. Every other operation is tested through the balancer.
    done = run_schemathesis(balancer_url, tmp_path, ("--exclude-path", "/metrics"))
    assert_no_failure(done)
