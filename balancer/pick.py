"""Which backend gets the next attempt: plain round robin, and the fallback when none is up.

Nothing here looks at the request: no cookie, client address or header can make it sticky.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def round_robin(
    eligible: Sequence[bool], cursor: int, exclude: Collection[int] = ()
) -> tuple[int | None, int]:
    """The first eligible index at or after ``cursor`` not in ``exclude``, and the next cursor.

    Returns ``(None, cursor)`` when no backend qualifies.
    """
    count = len(eligible)
    for step in range(count):
        index = (cursor + step) % count
        if eligible[index] and index not in exclude:
            return index, (index + 1) % count
    return None, cursor


def least_recently_failed(
    last_failures: Sequence[float], exclude: Collection[int] = ()
) -> int | None:
    """The index whose last failure is the oldest (the best bet when nothing is up)."""
    best: int | None = None
    for index, failed_at in enumerate(last_failures):
        if index in exclude:
            continue
        if best is None or failed_at < last_failures[best]:
            best = index
    return best
