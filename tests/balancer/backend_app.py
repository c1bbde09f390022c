"""A stand-in backend for the balancer's tests: ``python -m tests.balancer.backend_app``.

It answers ``/readyz`` (503 while draining after SIGTERM), echoes what it received, can be made
slow, answers chosen statuses, streams, and records every POST it processed (one JSON line per
POST in ``--log``), deduplicating by ``Idempotency-Key`` the way the real node does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

from aiohttp import web

NAME = web.AppKey("name", str)
LOG = web.AppKey("log", Path)
DRAINING = web.AppKey("draining", list)
SEEN = web.AppKey("seen", dict)


async def readyz(request: web.Request) -> web.Response:
    status = 503 if request.app[DRAINING] else 200
    return web.json_response({"ready": status == 200}, status=status)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    delay = float(request.query.get("sleep", "0"))
    if delay:
        await asyncio.sleep(delay)
    headers = {"X-Secret-Hop": "1", "Connection": "X-Secret-Hop", "X-Kept": "yes"}
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body_length": len(body),
            "peer": request.remote,
        },
        headers=headers,
    )


async def status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="chosen status")


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for i in range(int(request.query.get("n", "5"))):
        await response.write(f"chunk-{i}\n".encode())
        await asyncio.sleep(float(request.query.get("gap", "0")))
    await response.write_eof()
    return response


async def orders(request: web.Request) -> web.Response:
    """Record the POST (one log line), then answer; keys are deduplicated across backends.

    A key is claimed atomically with an O_EXCL file shared by every stand-in (like the real
    node's Redis reservation), so a retry that lands on another backend replays the order.
    """
    body = await request.read()
    delay = float(request.query.get("sleep", "0"))
    key = request.headers.get("Idempotency-Key")
    name = request.app[NAME]
    order = {"id": f"{name}-{os.getpid()}-{request.app[SEEN].setdefault('n', 0)}", "key": key}
    request.app[SEEN]["n"] += 1
    if key:
        path = request.app[LOG].parent / f"key-{key}"
        draft = path.with_name(f"draft-{os.getpid()}-{key}")
        draft.write_text(json.dumps(order))
        try:
            os.link(draft, path)  # atomic claim, never visible half-written
        except FileExistsError:
            stored = json.loads(path.read_text())
            return web.json_response(stored, status=201, headers={"Idempotent-Replayed": "true"})
        finally:
            draft.unlink()
    with request.app[LOG].open("a") as handle:
        handle.write(json.dumps({"key": key, "node": name, "size": len(body)}) + "\n")
    if delay:
        await asyncio.sleep(delay)
    return web.json_response(order, status=201)


@web.middleware
async def served_by(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
    request_response = await handler(request)
    if not request_response.prepared:
        request_response.headers["X-Served-By"] = request.app[NAME]
    return request_response


def create_app(name: str, log: Path) -> web.Application:
    app = web.Application(middlewares=[served_by])
    app[NAME], app[LOG], app[DRAINING], app[SEEN] = name, log, [], {}
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/stream", stream)
    app.router.add_post("/orders", orders)
    return app


async def main(host: str, port: int, name: str, log: Path, drain: float) -> None:
    app = create_app(name, log)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    app[DRAINING].append(True)  # readyz 503 at once; keep serving for the drain period
    await asyncio.sleep(drain)
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--drain", type=float, default=1.5)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port, args.name, args.log, args.drain))
