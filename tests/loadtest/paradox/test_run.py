"""``paradox`` end to end, shortened: real Redis processes, real nodes, wrk, a Redis kill.

The thresholds leave room for a busy 2-core machine; what they check is each mode's nature:
``none`` never takes a token back, the denylists fail closed or open, ``cached`` never accepts
a token it knew was revoked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from loadtest.paradox.run import main
from tests.support import REDIS_NEEDED, RedisServer, require


@pytest.mark.cluster
@pytest.mark.slow
def test_paradox_measures_every_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    require(shutil.which("wrk") is not None, "wrk (Debian: apt-get install wrk)")
    out = tmp_path / "report"
    argv = ["--nodes", "2", "--trials", "3", "--rounds", "1", "--duration", "1"]
    argv += ["--outage", "1.5,1.5,3", "--workers", "4", "--out", str(out)]
    assert main(argv) == 0

    printed = capsys.readouterr().out
    assert "| mode" in printed and "cached" in printed
    for name in ("index.html", "paradox.png", "outage.png", "table.md", "results.json"):
        assert (out / name).stat().st_size > 0
    results: dict[str, Any] = {
        r["mode"]: r for r in json.loads((out / "results.json").read_text())["results"]
    }
    assert set(results) == {"none", "denylist", "denylist-fail-open", "cached"}

    none = results["none"]
    assert none["never_rejected"] == none["trials"] == 3
    assert none["outage"]["valid_ok"] == none["outage"]["valid"] > 0
    for mode in ("denylist", "denylist-fail-open", "cached"):
        r = results[mode]
        assert r["never_rejected"] == 0, mode
        assert max(r["propagation_ms"]) < 1000, mode
        assert r["rps"][0] > 0, mode
        assert r["recovery_s"] is not None, mode  # Redis with AOF: nothing forgotten

    denylist = results["denylist"]["outage"]
    fail_open = results["denylist-fail-open"]["outage"]
    cached = results["cached"]["outage"]
    assert denylist["revoked_accepted"] == 0  # fail closed: 401 or 503, never 200
    assert denylist["valid_ok"] < 0.1 * denylist["valid"]  # 503 while Redis is down
    assert fail_open["valid_ok"] > 0.9 * fail_open["valid"]
    assert fail_open["revoked_accepted"] > 0.5 * fail_open["revoked"]  # the price of fail-open
    assert cached["revoked_accepted"] == 0  # served from what it knew
    assert cached["valid_ok"] > 0.9 * cached["valid"]
