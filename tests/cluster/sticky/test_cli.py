"""``cluster check-sticky`` where it must say it cannot tell (exit 2), with no balancer binary:
the stand-in backends run in threads of this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.cli import main as cluster_main
from cluster.sticky.cli import main
from tests.cluster.sticky.peers import Backends
from tests.support import free_port


@pytest.fixture
def one_backend() -> Iterator[str]:
    backends = Backends(1)
    yield f"http://{backends.addresses[0]}/"
    backends.close()


def test_an_unreachable_url_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"http://127.0.0.1:{free_port()}/"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cluster check-sticky: cannot reach") and "refused" in err


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http:///nohost", "http://127.0.0.1:99999/"])
def test_a_bad_url_is_an_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([url]) == 2
    assert "cluster check-sticky:" in capsys.readouterr().err


def test_one_backend_seen_is_an_error_that_says_so(
    one_backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([one_backend, "--requests", "6"]) == 2
    captured = capsys.readouterr()
    assert "cannot judge: only one backend (b1) answered" in captured.err
    assert "b1=6" in captured.out  # the evidence still shows what answered


def test_answers_that_name_no_backend_are_an_error(
    one_backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([one_backend, "--requests", "4", "--header", "X-Nope"]) == 2
    assert "named the backend" in capsys.readouterr().err
    assert main([one_backend, "--requests", "4", "--json-field", "nope"]) == 2


def test_an_unreadable_manifest_is_an_error(
    tmp_path: Path, one_backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([one_backend, "--manifest", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    assert main([one_backend, "--manifest", str(broken)]) == 2
    assert f"{broken}: not valid YAML" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--requests", "2"], ["--addresses", "x"]])
def test_bad_options_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["http://127.0.0.1:1/", *argv])
    assert exit_.value.code == 2


def test_the_cluster_command_hands_check_sticky_over(
    one_backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster_main(["check-sticky", one_backend, "--requests", "4"]) == 2
    assert "only one backend (b1)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cluster_main(["check-sticky", "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: cluster check-sticky URL")
