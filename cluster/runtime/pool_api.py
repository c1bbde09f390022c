"""The balancer's pool as the local runtime changes it: ``PUT /_lb/backends`` on the admin
listener, and waiting until removed backends have left (drained) before their nodes are stopped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection
from typing import Any

from cluster.runtime.base import ClusterError
from cluster.runtime.net import put_json


def set_backends(admin: str, urls: Collection[str]) -> dict[str, Any]:
    """Make the balancer's pool ``urls``; its answer (the new pool, what was added, removed)."""
    url = f"{admin}/_lb/backends"
    try:
        return put_json(url, {"backends": list(urls)})
    except OSError as exc:
        raise ClusterError(f"the balancer did not take the new backends ({url}): {exc}") from exc


def wait_dropped(status: Callable[[], dict[str, Any]], urls: set[str], timeout: float) -> bool:
    """Until the balancer's status no longer lists ``urls``: their in-flight requests are done.
    False when some are still listed after ``timeout`` (the nodes' own drain covers the rest)."""
    deadline = time.monotonic() + timeout
    while urls and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            listed = {str(b.get("url")) for b in status().get("backends", [])}
            if not urls & listed:
                return True
        time.sleep(0.1)
    return not urls
