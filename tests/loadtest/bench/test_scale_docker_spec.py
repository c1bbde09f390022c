"""bench-scale on Docker, the parts without I/O: its options, each container's arguments, where
and how a container's CPU use is read; and HAProxy's servers given as addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.bench.peers import haproxy_config
from loadtest.bench.scale import dockerspec
from loadtest.bench.scale.run import options


@pytest.mark.parametrize(
    ("argv", "env", "runtime", "image", "via", "json", "png"),
    [
        ([], {}, "local", "stateless-cluster/app:latest", "ip",
         "reports/bench-scale.json", "reports/bench-scale.png"),
        (["--runtime", "docker"], {"APP_IMAGE": "stateless-cluster/app:wpscale"}, "docker",
         "stateless-cluster/app:wpscale", "ip",
         "reports/bench-scale-docker.json", "reports/bench-scale-docker.png"),
        (["--runtime", "docker", "--image", "x:1", "--via", "published", "--json", "a.json",
          "--period-ms", "20"],
         {"APP_IMAGE": "ignored"}, "docker", "x:1", "published",
         "a.json", "reports/bench-scale-docker.png"),
    ],
)  # fmt: skip
def test_options(argv: list[str], env: dict[str, str], runtime: str, image: str, via: str,
                 json: str, png: str) -> None:  # fmt: skip
    args = options(argv, env)
    assert (args.runtime, args.image, args.via) == (runtime, image, via)
    assert (args.json, args.png) == (Path(json), Path(png))
    assert args.period_ms == (20 if "--period-ms" in argv else 0)


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(SystemExit):
        options(["--runtime", "podman"], {})


@pytest.mark.parametrize(
    ("quota", "period_us", "limit"),
    [
        (0.15, None, {"nano_cpus": 150_000_000}),  # docker run --cpus 0.15
        (1.0, None, {"nano_cpus": 10**9}),
        (0.15, 20_000, {"cpu_period": 20_000, "cpu_quota": 3_000}),  # as the local cgroup quota
        (0.01, 20_000, {"cpu_period": 20_000, "cpu_quota": 1_000}),  # the kernel's minimum
        (None, None, {}),
        (None, 20_000, {}),
    ],
)
def test_the_cpu_limit(quota: float | None, period_us: int | None, limit: dict[str, int]) -> None:
    assert dockerspec.cpu_limit(quota, period_us) == limit


def test_a_node_container_is_limited_labelled_and_published_on_loopback_only() -> None:
    args = dockerspec.node_args("bench-scale-1-ab", 2, "img:t", "net", "s" * 64, 0.15, 40123)
    assert args["image"] == "img:t" and args["command"] == ["node"]
    assert args["name"] == "bench-scale-1-ab-node-2" and args["network"] == "net"
    assert args["nano_cpus"] == 150_000_000 and "cpu_period" not in args
    assert args["ports"] == {"8000/tcp": ("127.0.0.1", 40123)}
    assert args["labels"] == {dockerspec.LABEL: "bench-scale-1-ab"}
    env = args["environment"]
    assert env["NODE_NAME"] == "node-2" and env["NODE_PORT"] == "8000"
    assert env["REDIS_URL"] == "redis://bench-scale-1-ab-redis:6379/0"  # its name on the network
    assert env["JWT_SECRET"] == "s" * 64


def test_a_node_container_with_a_period_has_a_quota_instead_of_nano_cpus() -> None:
    args = dockerspec.node_args("r", 1, "img", "net", "s", 0.15, 40123, period_us=20_000)
    assert (args["cpu_period"], args["cpu_quota"]) == (20_000, 3_000) and "nano_cpus" not in args


def test_redis_has_no_limit_and_no_persistence() -> None:
    args = dockerspec.redis_args("run", "redis:7", "net")
    assert args["name"] == "run-redis" and "nano_cpus" not in args
    assert args["command"][args["command"].index("--save") + 1] == ""
    assert args["labels"] == {dockerspec.LABEL: "run"}


V1 = """12:pids:/docker/abc
4:cpu:/docker/abc
3:cpuacct:/docker/abc
0::/
"""
V1_JOINT = "5:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n"
V2 = "0::/system.slice/docker-abc.scope\n"


@pytest.mark.parametrize(
    ("text", "files"),
    [
        (V1, ["cpuacct/docker/abc/cpuacct.usage", "cpu,cpuacct/docker/abc/cpuacct.usage",
              "cpu.stat"]),
        (V1_JOINT, ["cpuacct/docker/abc/cpuacct.usage", "cpu,cpuacct/docker/abc/cpuacct.usage"]),
        (V2, ["system.slice/docker-abc.scope/cpu.stat"]),
        ("", []),
    ],
)  # fmt: skip
def test_where_a_containers_cpu_is_read(text: str, files: list[str]) -> None:
    root = Path("/sys/fs/cgroup")
    assert dockerspec.usage_files(text, root) == [root / f for f in files]


@pytest.mark.parametrize(
    ("name", "text", "seconds"),
    [
        ("cpuacct.usage", "1500000000\n", 1.5),
        ("cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n", 2.5),
    ],
)
def test_cpu_usage_is_parsed(name: str, text: str, seconds: float) -> None:
    assert dockerspec.usage_seconds(name, text) == seconds


def test_a_cpu_stat_without_usage_is_an_error() -> None:
    with pytest.raises(ValueError, match="usage_usec"):
        dockerspec.usage_seconds("cpu.stat", "nr_periods 3\n")


def test_the_stats_api_reports_nanoseconds() -> None:
    assert dockerspec.stats_seconds({"cpu_stats": {"cpu_usage": {"total_usage": 3 * 10**9}}}) == 3


def test_haproxy_takes_loopback_ports_and_addresses() -> None:
    config = haproxy_config(8080, [9001, "172.18.0.3:8000"], threads=1)
    assert "server n1 127.0.0.1:9001 check" in config
    assert "server n2 172.18.0.3:8000 check" in config
