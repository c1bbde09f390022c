"""Thin I/O for the Docker runtime: the Compose CLI, the Docker SDK client and its images, the
shared secret.

``docker compose`` (the CLI plugin) is used when it answers, else the standalone
``docker-compose`` (v1); both take the same ``-p PROJECT -f FILE`` arguments used here.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cluster.runtime.base import ClusterError, MissingDependency, RuntimeUnavailable
from cluster.runtime.docker.config import REDIS_CANDIDATES
from cluster.runtime.docker.model import choose_image, compose_command
from cluster.runtime.jwt_secret import ensure_secret


def _plugin_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=20, check=False
        )
        return done.returncode == 0
    return False


class Compose:
    """Runs the Compose CLI for one project and file."""

    def __init__(self, project: str, compose_file: Path, *overrides: Path) -> None:
        self.project = project
        self.file = compose_file
        #: Further files merged over the first (compose/compose.ha.yaml).
        self.overrides = overrides
        self._base: list[str] | None = None

    @property
    def base(self) -> list[str]:
        if self._base is None:
            standalone = shutil.which("docker-compose") is not None
            self._base = compose_command(_plugin_answers(), standalone)
        return self._base

    def run(self, args: Sequence[str], env: Mapping[str, str], timeout: float = 300.0) -> str:
        """Run ``compose -p PROJECT -f FILE ARGS``; its output, or ``ClusterError`` with it."""
        files = [arg for path in (self.file, *self.overrides) for arg in ("-f", str(path))]
        argv = [*self.base, "-p", self.project, *files, *args]
        try:
            done = subprocess.run(
                argv,
                env=dict(env),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"`{' '.join(argv)}` did not finish in {timeout:.0f}s") from exc
        output = (done.stdout or "") + (done.stderr or "")
        if done.returncode != 0:
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise ClusterError(f"`{' '.join(argv)}` failed ({done.returncode}):\n{tail}")
        return output


def docker_client(timeout: float = 60.0) -> Any:
    """A Docker SDK client for the engine of the environment (``DOCKER_HOST`` or the socket)."""
    try:
        import docker
    except ImportError as exc:
        raise MissingDependency(
            "the Docker SDK is not installed (pip install 'stateless-cluster[docker]')"
        ) from exc
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise RuntimeUnavailable(f"no Docker engine answers: {exc}") from exc
    return client


def image_present(client: Any, image: str) -> bool:
    """Whether the engine has ``image`` locally (nothing is pulled)."""
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def redis_image(requested: str | None, present: Callable[[str], bool]) -> str:
    """``REDIS_IMAGE`` when set, else the first of ``REDIS_CANDIDATES`` that is here."""
    image = choose_image(requested, REDIS_CANDIDATES, present)
    if image is None:
        raise MissingDependency(
            f"no Redis image here (tried {', '.join(REDIS_CANDIDATES)}): run `make images`"
        )
    return image


def ensure_shared_secret(path: Path) -> None:
    """Create the JWT secret Compose hands to every node, unless a valid one exists.

    The file is bind-mounted into the containers, whose service user is not the owner: it is
    world-readable (0644), and its directory (0700) keeps other users of this machine out.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    ensure_secret(path, mode=0o644)
