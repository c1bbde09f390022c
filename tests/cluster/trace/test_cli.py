"""``cluster trace ID --logs DIR`` on a directory of log files like ``.cluster/logs``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.cli import main
from tests.cluster.trace.test_path import RID, balancer, node


def test_trace_reads_every_log_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "node-3.log").write_text(node("node-3", "2026-12-01T12:00:00.020Z", 201) + "\n")
    (tmp_path / "balancer.log").write_text(
        '{"msg":"balancer up"}\n'
        + balancer("2026-12-01T12:00:00.021Z", ["try=1 backend=node-2 outcome=reset then=retry"])
    )
    (tmp_path / "redis.log").write_text("1:M * Ready to accept connections\n")
    assert main(["trace", RID, "--logs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 retry" in out and "node-2" in out and "answered" in out
    assert main(["trace", "unknown", "--logs", str(tmp_path)]) == 1
    assert main(["trace", RID, "--logs", str(tmp_path), "--json"]) == 0
    assert '"retries": 1' in capsys.readouterr().out
