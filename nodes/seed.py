"""The demo users, seeded idempotently: several nodes may start at once against one Redis.

Each user is written in one MULTI/EXEC of HSETNX, so the first writer wins field by field and
no user is ever left half written. A user counts as seeded once it has a password; one without
(left by an interrupted seed of an older version) is completed, its fields kept. Seeding retries
in the background while Redis cannot be reached; ``/readyz`` stays 503 until it succeeded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from nodes.passwords import hash_password
from nodes.state import CONFIG, DUMMY_HASH, READINESS, STORE
from nodes.store import Store, StoreUnavailable

SEED_USERS = ("alice", "bob", "carol")
RETRY_SECONDS = 1.0
log = logging.getLogger("nodes.seed")


def demo_password(user: str) -> str:
    """The demo credentials (docs/api.md): the name followed by ``-pass``."""
    return f"{user}-pass"


async def seed_users(store: Store, cost: int) -> int:
    """Create the missing demo users; returns how many this call hashed a password for."""
    loop = asyncio.get_running_loop()
    created = 0
    for user in SEED_USERS:
        if await store.user_seeded(user):
            continue
        hashed = await loop.run_in_executor(None, hash_password, demo_password(user), cost)
        await store.seed_user(user, {"id": user, "name": user.title(), "password": hashed})
        created += 1
    return created


async def _try_seed(app: web.Application) -> bool:
    try:
        created = await seed_users(app[STORE], app[CONFIG].password_hash_cost)
    except StoreUnavailable as exc:
        log.warning("seeding failed; serving unready and retrying", extra={"error": str(exc)})
        return False
    app[READINESS].seeded = True
    log.info("users seeded", extra={"users_created": created})
    return True


async def _seed_until_done(app: web.Application) -> None:
    while True:
        await asyncio.sleep(RETRY_SECONDS)
        if await _try_seed(app):
            return


async def seeding_ctx(app: web.Application) -> AsyncIterator[None]:
    """Seed before serving when Redis answers; otherwise keep trying in the background."""
    loop = asyncio.get_running_loop()
    cost = app[CONFIG].password_hash_cost
    app[DUMMY_HASH] = await loop.run_in_executor(None, hash_password, "no-such-user", cost)
    task: asyncio.Task[None] | None = None
    if not await _try_seed(app):
        task = asyncio.create_task(_seed_until_done(app))
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
