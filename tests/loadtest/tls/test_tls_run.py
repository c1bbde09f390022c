"""``make tls`` end to end, small: a TLS cluster, full and resumed handshakes, the spread over the
nodes, and an old session refused after a balancer restart and by another balancer (~20 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.tls.run import main
from tests.support import REDIS_NEEDED, RedisServer, require

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(60)]


def test_resumption_is_measured_and_dies_with_the_process(tmp_path: Path) -> None:
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    argv = ["--connections", "30", "--rounds", "1", "--no-plot", "--out", str(tmp_path)]
    assert main(argv) == 0
    result = json.loads((tmp_path / "tls.json").read_text())
    assert result["broken"] == []
    cells = {(c["version"], c["mode"]): c for c in result["cells"]}
    for version in ("1.2", "1.3"):
        full, resumed = cells[version, "full"], cells[version, "resumed"]
        assert (full["connections"], full["reused"]) == (30, 0)
        assert (resumed["connections"], resumed["reused"]) == (30, 30)
        # Resumed connections are round-robined like any other: every node answers some.
        assert sorted(resumed["served_by"]) == ["node-1", "node-2", "node-3"]
        assert all(count >= 5 for count in resumed["served_by"].values())
        assert cells[version, "keep-alive"]["requests"] == 30
        assert result["sessions"][version]["has_ticket"] is True
    plain = cells["none", "plain"]
    assert plain["requests"] == 30 and plain["statuses"] == {"200": 30}
    offers = {(o["version"], o["event"]): o for o in result["offers"]}
    assert len(offers) == 4
    for offer in offers.values():
        assert (offer["before"], offer["after"], offer["control"]) == (True, False, True)
