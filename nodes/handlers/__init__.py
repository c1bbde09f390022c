"""The HTTP handlers, and the one table that maps routes to them."""

from __future__ import annotations

from aiohttp import web

from nodes.handlers import cart, creates, orders, probes, profile, session
from nodes.state import CONFIG

ROUTES = (
    ("POST", "/auth/login", session.login),
    ("POST", "/auth/logout", session.logout),
    ("POST", "/auth/logout-all", session.logout_all),
    ("GET", "/whoami", session.whoami),
    ("GET", "/users/{id}", orders.get_user),
    ("GET", "/users/{id}/profile", profile.get_profile),
    ("GET", "/users/{id}/orders", orders.list_orders),
    ("POST", "/users/{id}/orders", creates.create_order),
    ("GET", "/orders/{id}", orders.get_order),
    ("PUT", "/orders/{id}", orders.update_order),
    ("GET", "/healthz", probes.healthz),
    ("GET", "/readyz", probes.readyz),
    ("GET", "/metrics", probes.metrics),
    ("GET", "/openapi.json", probes.openapi),
)


def add_routes(app: web.Application) -> None:
    """Register ``ROUTES`` (no implicit HEAD: the OpenAPI document lists exactly these), and
    the cart's with ``SESSIONS=memory``."""
    routes = ROUTES + cart.ROUTES if app[CONFIG].sessions == "memory" else ROUTES
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
