"""``make bench-scale --runtime docker``'s decisions, without I/O: the arguments of each
container (Docker SDK ``containers.create``), where a container's CPU use is read on this host,
and how that file is parsed.

A node's CPU limit is ``nano_cpus`` (``docker run --cpus``): the engine turns it into a CFS
quota over its default 100 ms period (0.15 CPU: 15 ms per 100 ms). With a ``period_us`` it is
``cpu_period``/``cpu_quota`` instead (``docker run --cpu-period --cpu-quota``): the same share
over a shorter period, as the local run's cgroup quota (20 ms). Every container and the
network carry ``LABEL`` with the run's name, and the run removes what carries it, nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABEL = "org.stateless-cluster.bench-scale"
NODE_PORT = 8000  # the image's NODE_PORT
ROOT = Path("/sys/fs/cgroup")


def cpu_limit(quota: float | None, period_us: int | None = None) -> dict[str, int]:
    """The container arguments that hold it to ``quota`` cores: ``nano_cpus`` (Docker's 100 ms
    period), or a quota over ``period_us`` (at least 1 ms: the kernel's minimum); none: {}."""
    if not quota:
        return {}
    if period_us:
        return {"cpu_period": period_us, "cpu_quota": max(1000, round(quota * period_us))}
    return {"nano_cpus": round(quota * 1e9)}


def redis_args(run: str, image: str, network: str) -> dict[str, Any]:
    """Redis for the nodes, reachable on ``network`` as ``<run>-redis``; no persistence (a
    benchmark's orders are thrown away) and no CPU limit (it is measured, not held)."""
    return {
        "image": image,
        "command": ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"],
        "name": f"{run}-redis",
        "network": network,
        "labels": {LABEL: run},
    }


def node_args(
    run: str,
    index: int,
    image: str,
    network: str,
    secret: str,
    quota: float | None,
    port: int,
    period_us: int | None = None,
) -> dict[str, Any]:
    """Node ``index`` of the run, held to ``quota`` cores (``cpu_limit``), its port published
    on the host's loopback as ``port``."""
    return {
        "image": image,
        "command": ["node"],
        "name": f"{run}-node-{index}",
        "network": network,
        **cpu_limit(quota, period_us),
        "environment": {
            "NODE_NAME": f"node-{index}",
            "NODE_PORT": str(NODE_PORT),
            "REDIS_URL": f"redis://{run}-redis:6379/0",
            "JWT_SECRET": secret,
            "LOG_LEVEL": "WARNING",
        },
        "ports": {f"{NODE_PORT}/tcp": ("127.0.0.1", port)},
        "labels": {LABEL: run},
    }


def cgroup_of(proc_cgroup: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as controller -> path (cgroup v2's unified line under ``""``)."""
    groups: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                groups[controller] = parts[2]
    return groups


def usage_files(proc_cgroup: str, root: Path = ROOT) -> list[Path]:
    """Where the CPU use of the process's cgroup can be read, most likely first: cgroup v1's
    ``cpuacct.usage`` (the controller mounted alone or as ``cpu,cpuacct``), cgroup v2's
    ``cpu.stat``."""
    groups = cgroup_of(proc_cgroup)
    files = []
    if "cpuacct" in groups:
        path = groups["cpuacct"].lstrip("/")
        files += [root / mount / path / "cpuacct.usage" for mount in ("cpuacct", "cpu,cpuacct")]
    if "" in groups:
        files.append(root / groups[""].lstrip("/") / "cpu.stat")
    return files


def usage_seconds(name: str, text: str) -> float:
    """CPU seconds from ``cpuacct.usage`` (nanoseconds) or ``cpu.stat`` (``usage_usec``)."""
    if name == "cpuacct.usage":
        return int(text.strip()) / 1e9
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    raise ValueError(f"no usage_usec in {name}: {text[:80]!r}")


def stats_seconds(stats: dict[str, Any]) -> float:
    """CPU seconds from the engine's stats API (``cpu_stats.cpu_usage.total_usage``, ns)."""
    return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9
