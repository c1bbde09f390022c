"""What a forwarded request leaves behind: one note per try that did not simply succeed, and
one JSON log line when there are notes (every request at ``LOG_LEVEL=DEBUG``).

The notes are also what ``X-LB-Explain`` shows. Nothing here runs for a request that went
through on its first try, unless DEBUG is on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from balancer.request import Request
from balancer.retry import Decision, Outcome

log = logging.getLogger("balancer.exchange")  # the name log readers (``cluster trace``) know


def note(attempt: int, backend: str, outcome: Outcome, decision: Decision) -> str:
    """``try=N backend=B outcome=O then=retry|wait(reason)|stop(reason)``."""
    if decision.retry:
        then = "retry"
    else:
        then = f"{'wait' if decision.wait else 'stop'}({decision.reason})"
    return f"try={attempt} backend={backend} outcome={outcome} then={then}"


def log_request(
    request: Request, status: int, elapsed: float, notes: list[str], tried: Sequence[str]
) -> None:
    log.log(
        logging.INFO if notes else logging.DEBUG,
        "request",
        extra={
            "request_id": request.forward.request_id.decode(),
            "method": request.method,
            "path": request.target.decode("latin-1")[:200],
            "status": status,
            "attempts": notes or list(tried),
            "duration_ms": round(elapsed * 1000, 2),
        },
    )
