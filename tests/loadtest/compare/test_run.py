"""``make compare`` end to end, shortened: three real clusters, Locust, chaos, a scale-out.

What it holds to is each variant's nature, not figures: the stateless cluster loses no session
and no item under chaos; both stateful twins lose sessions (the sticky one when its users'
node is killed or drained, the other on nearly every request). Failed requests are printed,
not asserted for the stateless run: the local runtime's scale-out restarts the balancer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loadtest.compare.run import main
from tests.support import REDIS_NEEDED, RedisServer, free_ports, require

LINE = re.compile(r"^(stateless|stateful\+sticky|stateful): requests (\d+), failed (\d+), "
                  r"sessions lost (\d+)$", re.M)  # fmt: skip


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_compare_shows_what_the_stateful_twin_loses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    balancer, admin, redis, *nodes = free_ports(7)
    for name, value in {
        "CLUSTER_STATE_DIR": str(tmp_path / "cluster"), "CLUSTER_BALANCER_PORT": str(balancer),
        "CLUSTER_ADMIN_PORT": str(admin), "CLUSTER_REDIS_PORT": str(redis),
        "CLUSTER_NODE_PORTS": ",".join(map(str, nodes)), "DRAIN_SECONDS": "0.5",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    argv = ["--duration", "14s", "--users", "6", "--reports", str(tmp_path / "reports")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = {m[1]: tuple(map(int, m.groups()[1:])) for m in LINE.finditer(out)}
    assert list(lines) == ["stateless", "stateful+sticky", "stateful"], out
    assert lines["stateless"][2] == 0, out  # no session lost
    assert "| items lost (cart or order) | 0 |" in out, out
    assert lines["stateful+sticky"][2] > 0 and lines["stateful"][2] > 0, out
    assert lines["stateful"][2] > lines["stateful+sticky"][2], out
    assert list((tmp_path / "reports").glob("compare-*/compare.png")), out
