"""The JWT signing secret every node of one cluster shares, generated once into a file.

The nodes read it from ``JWT_SECRET_FILE``; no secret is written into the repository or passed
on a command line.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_secret(path: Path, mode: int = 0o600) -> Path:
    """Create ``path`` with 64 random hex characters unless it holds a valid secret (at least
    32 bytes) already; either way leave it with ``mode``."""
    if not (path.exists() and len(path.read_bytes().strip()) >= 32):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), mode)
            out.write(secrets.token_hex(32))
    path.chmod(mode)
    return path
