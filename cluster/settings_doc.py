"""``docs/settings.md``, rendered from the settings each service declares (``servicekit``).

    python -m cluster.settings_doc > docs/settings.md     (make docs)

A test holds the file equal to this rendering, so the page cannot drift from the code.
"""

from __future__ import annotations

import sys

from balancer.config import BalancerConfig
from cluster.config import ClusterConfig
from cluster.runtime.docker.config import DockerSettings
from nodes.config import NodeConfig
from servicekit.settings import describe

SECTIONS = (
    ("The node (`python -m nodes`)", NodeConfig),
    ("The balancer (`python -m balancer`)", BalancerConfig),
    ("The operations tool (`cluster`, `chaos-kill`, `make demo`)", ClusterConfig),
    ("The operations tool: the Docker runtime", DockerSettings),
)

HEAD = """# Settings, as implemented

Every service is configured by environment variables only. Each variable is declared once, in
the service's `config.py`, with its type, bounds, default and meaning; this page is rendered
from those declarations (`make docs`) and a test keeps it equal to them. A missing or invalid
setting stops the service at start with one line that names it, for example
`NODE_PORT: expected an integer from 1 to 65535, got 'abc'`. An unset or blank variable takes
its default.
"""


def render() -> str:
    parts = [HEAD]
    for title, cls in SECTIONS:
        parts.append(f"\n## {title}\n\n{describe(cls)}")
    return "".join(parts).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
