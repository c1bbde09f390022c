"""Settings of the Docker runtime, read once from the environment by ``DockerSettings.from_env``.

The rest (publish port, node count, revocation mode, drain, timeouts, state directory) comes from
``ClusterConfig``, shared with the local runtime. Nothing else in ``cluster.runtime.docker``
reads ``os.environ``; each setting is declared once below (``servicekit.settings``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.parsers import PATH, matching, text
from servicekit.settings import read, setting, spec_of

#: compose/compose.yaml of this checkout.
DEFAULT_COMPOSE_FILE = Path(__file__).resolve().parents[3] / "compose" / "compose.yaml"
DEFAULT_APP_IMAGE = "stateless-cluster/app:latest"
DEFAULT_PROJECT = "stateless-cluster"
#: The official image first, then the one compose/build-offline-images.sh builds.
REDIS_CANDIDATES = ("redis:7-alpine", "stateless-cluster/redis:bookworm")
#: Variables handed to Compose as they are: the containers check them.
PASSED_ON = ("LOG_LEVEL",)

# Compose's own rule for project names.
_PROJECT = matching(
    r"[a-z0-9][a-z0-9_-]*",
    "lower-case letters, digits, '-' and '_', starting with a letter or digit",
)


@dataclass(frozen=True, slots=True)
class DockerSettings:
    """Which Compose project, file and images the Docker runtime uses."""

    #: Every container, network and volume of the cluster carries the project as the
    #: ``com.docker.compose.project`` label, and the runtime acts on nothing else.
    project: str = setting(
        "COMPOSE_PROJECT_NAME", _PROJECT, DEFAULT_PROJECT, help="the Compose project"
    )
    compose_file: Path = setting(
        "CLUSTER_COMPOSE_FILE",
        PATH,
        DEFAULT_COMPOSE_FILE,
        shown="`compose/compose.yaml` of this checkout",  # not this machine's absolute path
        help="the Compose file",
    )
    app_image: str = setting(
        "APP_IMAGE",
        text("an image reference"),
        DEFAULT_APP_IMAGE,
        help="the image of the nodes and the balancer, built by `make images`",
    )
    redis_image: str | None = setting(
        "REDIS_IMAGE",
        text("an image reference"),
        None,
        help="Redis's image; unset: the first of `REDIS_CANDIDATES` present",
    )
    #: Extra variables for Compose (``PASSED_ON``: ``LOG_LEVEL``), passed as they are.
    extra_env: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        # A project given in code (tests, ``dataclasses.replace``) obeys the same rule.
        spec_of(DockerSettings, "project").parse(self.project)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DockerSettings:
        """Read and validate every setting; raise ``SettingError`` naming the first bad one."""
        source = os.environ if env is None else env
        extra = tuple((name, source[name]) for name in PASSED_ON if source.get(name))
        return read(cls, source, extra_env=extra)
