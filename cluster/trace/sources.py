"""Where the JSON log lines are: ``.cluster/logs/*.log`` for the local runtime, ``docker logs``
of the project's containers (found by their Compose labels) for the Docker runtime."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cluster.runtime.base import Runtime
from cluster.runtime.local import LocalRuntime
from cluster.trace.path import Line, parse_line


def file_lines(logs: Path) -> Iterator[tuple[str, str]]:
    """``(file name, line)`` of every ``*.log`` in ``logs`` (Redis's own log is not JSON: skipped
    by the parser)."""
    for path in sorted(logs.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                yield path.name, line


def container_lines(containers: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """``(container name, line)`` of each container's output (stdout and stderr)."""
    for container in containers:
        raw: bytes = container.logs(stdout=True, stderr=True)
        for line in raw.decode("utf-8", "replace").splitlines():
            yield str(container.name), line


def runtime_lines(runtime: Runtime) -> Iterator[tuple[str, str]]:
    if isinstance(runtime, LocalRuntime):
        return file_lines(runtime.logs)
    containers = getattr(runtime, "containers", None)  # the Docker runtime's label lookup
    if containers is None:
        raise TypeError(f"no logs known for the {runtime.name} runtime")
    return container_lines(containers())


def parse_all(lines: Iterable[tuple[str, str]]) -> list[Line]:
    parsed = (parse_line(text, source) for source, text in lines)
    return [line for line in parsed if line is not None]
