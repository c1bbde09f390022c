"""Which runtime: ``auto`` (Docker when an engine answers, else local processes), ``local`` or
``docker``, and a sentence saying why.

``choose_runtime`` is the decision (pure, table-tested); ``get_runtime`` gathers its inputs and
builds the runtime. The Docker runtime is imported only when chosen, so that the local one
works in a checkout without it and without the Docker SDK.
"""

from __future__ import annotations

import importlib
import importlib.util

from cluster.config import ClusterConfig
from cluster.runtime.base import Runtime, RuntimeUnavailable
from cluster.runtime.local import LocalRuntime

RUNTIMES = ("auto", "local", "docker")
DOCKER_MODULE = "cluster.runtime.docker.runtime"


def docker_engine_answers(timeout: float = 2.0) -> bool:
    """True when the Docker SDK is installed and an engine answers a ping."""
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # the SDK raises many kinds (no socket, permissions, API errors)
        return False


def choose_runtime(requested: str, docker_built: bool, engine_answers: bool) -> tuple[str, str]:
    """The runtime to use for ``requested`` and a sentence saying why (pure)."""
    if requested not in RUNTIMES:
        raise RuntimeUnavailable(f"RUNTIME={requested!r}: expected one of {', '.join(RUNTIMES)}")
    if requested != "auto":
        return requested, f"runtime: {requested} (asked for)"
    if not docker_built:
        return "local", "runtime: local (auto: the docker runtime is not built in this checkout)"
    if not engine_answers:
        return "local", "runtime: local (auto: no Docker engine answered)"
    return "docker", "runtime: docker (auto: a Docker engine answered)"


def find_runtime(requested: str, config: ClusterConfig) -> tuple[Runtime, str]:
    """The runtime of the cluster that already runs: ``auto`` means local when ``state.json``
    of ``config.state_dir`` exists (whatever ``auto`` would pick to start a new cluster)."""
    if requested == "auto" and (config.state_dir / "state.json").exists():
        return LocalRuntime(
            config
        ), "runtime: local (the cluster running from this state directory)"
    return get_runtime(requested, config)


def get_runtime(requested: str, config: ClusterConfig) -> tuple[Runtime, str]:
    """The runtime for ``requested`` (``auto``, ``local`` or ``docker``) and why it was chosen."""
    docker_built = importlib.util.find_spec(DOCKER_MODULE) is not None
    engine = docker_built and requested == "auto" and docker_engine_answers()
    chosen, reason = choose_runtime(requested, docker_built, engine)
    if chosen == "local":
        return LocalRuntime(config), reason
    if not docker_built:
        raise RuntimeUnavailable(
            "the docker runtime is not available: cluster/runtime/docker/ is missing "
            "(use RUNTIME=local)"
        )
    runtime: Runtime = importlib.import_module(DOCKER_MODULE).create_runtime(config)
    return runtime, reason
