"""The requests check-sticky sends, through one swap point: ``Send``.

``run(send, identify, plan)`` walks the cases of ``verdict`` (fresh clients, one client with a
cookie jar, one replay per cookie of the jar, other source addresses) and returns the
``Observations``. It does no I/O itself: ``transport.http_sender`` is the real ``Send``; tests
pass a function that plays a balancer. Every request stands for a new client connection, so a
balancer that pins a connection (not a client) cannot pass for a sticky one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from cluster.sticky.verdict import Case, Observations

DEFAULT_REQUESTS = 30
DEFAULT_ADDRESSES = 8
# A jar rarely holds more than a few cookies; past this many, replaying each costs more than
# the answer is worth.
MAX_REPLAYED_COOKIES = 8


class ProbeError(Exception):
    """A request could not be made (refused, timed out, not HTTP); the message says which."""


class SourceUnavailable(ProbeError):
    """A source address cannot be bound on this machine (only 127.0.0.1 on some systems)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One response: status, headers as sent (repeated ones kept), and the body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


# (source address, "" for the system's choice; the cookies to send) -> the answer
Send = Callable[[str, Mapping[str, str]], Answer]
# which backend served an answer, or None when it does not say
Identify = Callable[[Answer], "str | None"]


def by_header(name: str) -> Identify:
    """The backend's name from a response header (``X-Served-By`` by default)."""
    return lambda answer: answer.header(name) or None


def by_json_field(path: str) -> Identify:
    """The backend's name from a field of a JSON body; ``a.b`` reaches into objects."""

    def identify(answer: Answer) -> str | None:
        try:
            value: object = json.loads(answer.body)
        except ValueError:
            return None
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return str(value) if isinstance(value, str | int) and value != "" else None

    return identify


def default_sources(count: int = DEFAULT_ADDRESSES) -> tuple[str, ...]:
    """127.0.0.1, then 127.0.1.1, 127.0.2.1…: the third octet varies because nginx's
    ``ip_hash`` keys on the first three octets only (all of 127.0.0.x is one client to it)."""
    return ("127.0.0.1", *(f"127.0.{i}.1" for i in range(1, count)))


@dataclass(frozen=True, slots=True)
class Plan:
    """How many requests each case sends, and from where (``sources[0]`` for all but the
    address cases; ``("",)`` when the target is not on loopback)."""

    requests: int = DEFAULT_REQUESTS
    sources: tuple[str, ...] = field(default_factory=default_sources)

    @property
    def per_address(self) -> int:
        others = max(1, len(self.sources) - 1)
        return max(3, -(-self.requests // others))

    @property
    def per_replay(self) -> int:
        return max(6, self.requests // 3)


def run(send: Send, identify: Identify, plan: Plan) -> Observations:
    """Send every case of the plan and return what answered."""
    named = _namer(identify)
    home = plan.sources[0]
    fresh = tuple(named(send(home, {})) for _ in range(plan.requests))
    first, jar, kept = _keep_jar(send, named, plan)
    addresses, notes = _addresses(send, named, plan)
    return Observations(
        fresh=Case("fresh clients, no cookie", fresh, home),
        jar=Case("one client keeping its cookie jar", kept, home),
        jar_first=first,
        jar_cookies=tuple(jar),
        replays=_replays(send, named, plan, jar),
        addresses=addresses,
        notes=notes,
    )


Named = Callable[[Answer], "str | None"]


def _namer(identify: Identify) -> Named:
    def named(answer: Answer) -> str | None:
        # A 5xx is the balancer speaking for a backend that failed (this one adds its own
        # X-Served-By: balancer): not a backend choice.
        return identify(answer) if answer.status < 500 else None

    return named


def _keep_jar(
    send: Send, named: Named, plan: Plan
) -> tuple[str | None, dict[str, str], tuple[str | None, ...]]:
    """One client that keeps its cookies: its first answer, its final jar, the answers after."""
    home = plan.sources[0]
    jar: dict[str, str] = {}
    first = send(home, {})
    update_jar(jar, first.set_cookies())
    kept = []
    for _ in range(plan.requests - 1):
        answer = send(home, dict(jar))
        update_jar(jar, answer.set_cookies())
        kept.append(named(answer))
    return named(first), jar, tuple(kept)


def _replays(send: Send, named: Named, plan: Plan, jar: Mapping[str, str]) -> tuple[Case, ...]:
    """Per cookie of the jar, fresh clients that carry that cookie and nothing else."""
    home = plan.sources[0]
    return tuple(
        Case(
            f"replaying only cookie {name}",
            tuple(named(send(home, {name: value})) for _ in range(plan.per_replay)),
            home,
            cookie=name,
        )
        for name, value in list(jar.items())[:MAX_REPLAYED_COOKIES]
    )


def _addresses(send: Send, named: Named, plan: Plan) -> tuple[tuple[Case, ...], tuple[str, ...]]:
    if plan.sources[0] == "":
        return (), ("the URL is not on loopback: client addresses were not varied",)
    cases: list[Case] = []
    for source in plan.sources[1:]:
        try:
            answers = tuple(named(send(source, {})) for _ in range(plan.per_address))
        except SourceUnavailable as exc:
            return tuple(cases), (f"client addresses from {source} on were not tried: {exc}",)
        cases.append(Case("fresh clients, no cookie", answers, source))
    return tuple(cases), ()


def update_jar(
    jar: dict[str, str], set_cookies: Iterable[str], now: datetime | None = None
) -> None:
    """Keep what a browser would: the last value of each cookie, minus those set to expire."""
    moment = now or datetime.now(UTC)
    for raw in set_cookies:
        pair, *attributes = raw.split(";")
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        if any(_expired(attribute, moment) for attribute in attributes):
            jar.pop(name, None)
        else:
            jar[name] = value.strip()


def _expired(attribute: str, now: datetime) -> bool:
    key, _, value = (part.strip() for part in attribute.partition("="))
    if key.lower() == "max-age":
        return value.lstrip("-").isdigit() and int(value) <= 0
    if key.lower() == "expires":
        try:
            return parsedate_to_datetime(value) <= now
        except (TypeError, ValueError):
            return False
    return False
