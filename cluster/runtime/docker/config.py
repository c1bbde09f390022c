"""Settings of the Docker runtime, read once from the environment by ``DockerSettings.from_env``.

The rest (publish port, node count, revocation mode, drain, timeouts, state directory) comes from
``ClusterConfig``, shared with the local runtime. Nothing else in ``cluster.runtime.docker``
reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cluster.config import ConfigError

#: compose/compose.yaml of this checkout.
DEFAULT_COMPOSE_FILE = Path(__file__).resolve().parents[3] / "compose" / "compose.yaml"
DEFAULT_APP_IMAGE = "stateless-cluster/app:latest"
DEFAULT_PROJECT = "stateless-cluster"
#: The official image first, then the one compose/build-offline-images.sh builds.
REDIS_CANDIDATES = ("redis:7-alpine", "stateless-cluster/redis:bookworm")

# Compose's own rule for project names.
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class DockerSettings:
    """Which Compose project, file and images the Docker runtime uses."""

    #: The Compose project (``COMPOSE_PROJECT_NAME``): every container, network and volume of the
    #: cluster carries it as the ``com.docker.compose.project`` label, and the runtime acts on
    #: nothing else.
    project: str = DEFAULT_PROJECT
    #: The Compose file (``CLUSTER_COMPOSE_FILE``).
    compose_file: Path = DEFAULT_COMPOSE_FILE
    #: The image of the nodes and the balancer (``APP_IMAGE``), built by ``make images``.
    app_image: str = DEFAULT_APP_IMAGE
    #: Redis's image (``REDIS_IMAGE``); unset: the first of ``REDIS_CANDIDATES`` present.
    redis_image: str | None = None
    #: Extra variables for Compose (``LOG_LEVEL`` …), passed as they are.
    extra_env: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not _PROJECT.match(self.project):
            raise ConfigError(
                f"COMPOSE_PROJECT_NAME={self.project!r}: lower-case letters, digits, '-' and '_' "
                "only, starting with a letter or digit"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DockerSettings:
        env = os.environ if env is None else env
        compose_file = env.get("CLUSTER_COMPOSE_FILE")
        return cls(
            project=env.get("COMPOSE_PROJECT_NAME") or DEFAULT_PROJECT,
            compose_file=Path(compose_file) if compose_file else DEFAULT_COMPOSE_FILE,
            app_image=env.get("APP_IMAGE") or DEFAULT_APP_IMAGE,
            redis_image=env.get("REDIS_IMAGE") or None,
            extra_env=tuple((k, env[k]) for k in ("LOG_LEVEL",) if env.get(k)),
        )
