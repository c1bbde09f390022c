"""``make bench``'s orchestrator and machine load: the commands it runs, a failing part that
does not stop the others, and the busy share read from ``/proc/stat`` (no benchmark is run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from loadtest.bench import suite
from loadtest.bench.machine import Watch, busy_share, jiffies

STAT = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n"


def test_jiffies_counts_idle_and_iowait_as_not_busy() -> None:
    assert jiffies(STAT) == (150, 1000)
    later = "cpu  250 0 100 900 50 0 0 0 0 0\n"
    assert busy_share(jiffies(STAT), jiffies(later)) == pytest.approx(200 / 300)
    assert busy_share((1, 1), (1, 1)) == 0.0  # no tick between the samples


def test_a_watch_reports_every_figure_of_the_machine() -> None:
    watch = Watch()
    watch.sample()
    figures = watch.stop()
    assert figures["cpu_count"] >= 1 and len(figures["loadavg_before"]) == 3
    assert 0.0 <= figures["busy_share"] <= 1.0 and figures["other_share"] >= 0.0
    assert set(figures) >= {"busy_share_max_1s", "own_share", "loadavg_after", "seconds"}


def test_quick_and_part_args_reach_the_command(tmp_path: Path) -> None:
    args = suite.options(["--quick", "--out", str(tmp_path), "--part-args", "scale=--quota 0.2"])
    command = suite.command("scale", args)
    assert command[:3] == [sys.executable, "-m", "loadtest.bench.scale"]
    assert command[3:5] == ["--json", str(tmp_path / "bench" / "scale.json")]
    assert command[-2:] == ["--quota", "0.2"] and "--max-nodes" in command
    assert "--rounds" not in suite.command("node", suite.options(["--out", str(tmp_path)]))


@pytest.mark.parametrize(
    "argv", [["--parts", "node,nope"], ["--part-args", "scale"], ["--part-args", "x=--y"]]
)
def test_unknown_parts_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        suite.options(argv)


def test_a_failed_part_is_reported_and_the_next_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = {
        "node": suite.Part(
            "loadtest.bench.no_such_benchmark", lambda d: [], lambda d: d / "n.json", ()
        ),
        # ``json.tool`` copies a report into place: a part that writes one and exits 0
        "balancer": suite.Part(
            "json.tool", lambda d: [str(d / "in.json"), str(d / "b.json")], lambda d: d / "b.json",
            (),
        ),
    }  # fmt: skip
    monkeypatch.setattr(suite, "PARTS", fake)
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "in.json").write_text(json.dumps({"summary": {}}))
    code = suite.main(["--parts", "node,balancer", "--out", str(tmp_path)])
    assert code == 1
    summary = json.loads((tmp_path / "bench.json").read_text())
    node, balancer = summary["parts"]
    assert node["status"] == "failed" and node["exit_code"] == 1
    assert any("No module named" in line for line in node["stderr_tail"])
    assert balancer["exit_code"] == 0 and balancer["report"] == {"summary": {}}
    assert balancer["reason"].startswith("report not understood")  # no "balancer" row in it
    assert "**FAILED**" in (tmp_path / "bench.md").read_text()
    out = capsys.readouterr()
    assert "== [1/2] node:" in out.out and "[node 0:0" in out.err
