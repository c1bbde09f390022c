"""``SESSIONS=memory`` only: a cart kept in the caller's session, in this node's memory.

The piece of session state the stateful twin loses (``nodes.sessions``): another node has no
such cart, and a restarted node has none at all. The stateless API has no equivalent route:
what a client must keep across requests is either its own (the client's state) or a resource
in Redis (orders).
"""

from __future__ import annotations

from aiohttp import web

from nodes.auth import session_of
from nodes.errors import BadRequest
from nodes.handlers.common import json_response, read_json
from nodes.orders import validate_order
from nodes.sessions import CartFull, Session
from nodes.state import CONFIG


def _cart(request: web.Request, session: Session, status: int = 200) -> web.Response:
    body = {"items": session.cart, "count": len(session.cart),
            "node": request.app[CONFIG].node_name}  # fmt: skip
    return json_response(body, status, headers={"Cache-Control": "no-store"})


async def get_cart(request: web.Request) -> web.Response:
    return _cart(request, session_of(request))


async def add_to_cart(request: web.Request) -> web.Response:
    session = session_of(request)
    line = validate_order(await read_json(request))  # the same {"item", "quantity"} rules
    try:
        session.add(line.item, line.quantity)
    except CartFull as exc:
        raise BadRequest(str(exc), type_="cart-full") from exc
    return _cart(request, session, 201)


ROUTES = (("GET", "/cart", get_cart), ("POST", "/cart", add_to_cart))
