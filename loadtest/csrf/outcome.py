"""What one scenario of ``make csrf`` showed, and whether it is what the scenario expects (pure).

A scenario is a login mode (a cookie with some ``SameSite``, or Bearer only) and where the
attacker's page lives. What the browser did is read from the node's own access log (the status
of the forged requests) and through the API afterwards (orders created, token revoked).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    cookie: str  # AUTH_COOKIE: off, lax, strict, none
    attacker: str  # "cross-site" (http://localhost:…) or "same-site" (http://127.0.0.1:other)
    #: True when the forged requests should arrive authenticated as the victim.
    expect_csrf: bool


SCENARIOS = (
    Scenario("cookie, SameSite=None (+Secure)", "none", "cross-site", expect_csrf=True),
    Scenario("cookie, SameSite=Lax", "lax", "cross-site", expect_csrf=False),
    Scenario("Bearer only (no cookie)", "off", "cross-site", expect_csrf=False),
    # SameSite is about sites, not origins: another port of 127.0.0.1 is the same site.
    Scenario("cookie, SameSite=Lax, attacker same-site", "lax", "same-site", expect_csrf=True),
)


@dataclass(frozen=True, slots=True)
class Observed:
    """The node's answers to the two forged requests and their effects."""

    order_status: int | None  # POST /users/alice/orders, as the node logged it
    logout_status: int | None  # POST /auth/logout
    orders_created: int  # orders with the attacker's item afterwards
    token_revoked: bool  # the victim's token refused afterwards


def authenticated(status: int | None) -> bool:
    """The forged request got past authentication (the cookie went with it)."""
    return status is not None and status != 401


def csrf_happened(seen: Observed) -> bool:
    return authenticated(seen.order_status) or authenticated(seen.logout_status)


def verdict(seen: Observed) -> str:
    """One line: what the forged requests did."""
    if not csrf_happened(seen):
        return "blocked: both forged requests got 401 (no credential went with them)"
    parts = [f"CSRF: the forged requests arrived as the victim (order {seen.order_status}"]
    parts.append(f", logout {seen.logout_status})")
    if seen.token_revoked:
        parts.append("; the victim's token was revoked by the forged logout")
    if seen.orders_created:
        parts.append(f"; {seen.orders_created} order(s) created")
    elif seen.order_status == 400:
        parts.append("; no order: the node requires an Idempotency-Key header, which no form sends")
    return "".join(parts)


def as_expected(scenario: Scenario, seen: Observed) -> bool:
    if scenario.expect_csrf:
        return csrf_happened(seen) and seen.token_revoked
    return seen.order_status == 401 and seen.logout_status == 401 and not seen.token_revoked
