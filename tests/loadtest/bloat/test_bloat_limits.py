"""``make bloat``'s limit probes against the real servers (``--no-load``: no wrk, ~15 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.bench.peers import installed
from loadtest.bloat.run import main
from tests.support import REDIS_NEEDED, RedisServer, require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_where_each_server_refuses_a_big_token(tmp_path: Path) -> None:
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    require(installed("haproxy") and installed("nginx"), "haproxy and nginx (Debian)")
    assert main(["--no-load", "--out", str(tmp_path)]) == 0
    rows = {row["server"].split(" (")[0]: row for row in json.loads(
        (tmp_path / "bloat.json").read_text())["limits"]}  # fmt: skip
    balancer = rows["this balancer"]
    assert balancer["status"] == 431 and 16000 < balancer["accepted"] < 16384
    assert rows["nginx 1.22"]["status"] == 400 and rows["nginx 1.22"]["accepted"] == 8190
    assert rows["HAProxy 2.6"]["status"] == 400 and rows["HAProxy 2.6"]["accepted"] < 16384
    assert rows["aiohttp defaults"]["accepted"] == len("Authorization: ") + 8190
    assert rows["node"]["accepted"] > 32000 and rows["node"]["status"] == 400
    for name in ("this balancer", "HAProxy 2.6", "nginx 1.22", "node"):
        assert rows[name]["fits"] == [0, 10, 100]  # 1,000 roles (about 41 KB) fits nowhere
