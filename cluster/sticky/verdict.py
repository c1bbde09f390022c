"""Is a balancer sticky? The decision from what the probe saw, with no I/O.

Every case is a run of requests, each on a new connection, and the backend that answered each:

    fresh      no cookie, from the first source address (127.0.0.1)
    jar        one client that keeps every cookie it is given (its first answer is apart:
               nothing can pin a request that carries no cookie yet)
    replays    one per cookie of the jar: requests that carry that one cookie and nothing else
    addresses  no cookie, from each other loopback source address

The rules, in order:

    no answer named a backend                          -> cannot judge
    one backend answered everything                    -> cannot judge (one backend, or
                                                          everything pinned to it: same picture)
    fresh pinned, every address pinned, >= 2 backends  -> sticky by client address
    fresh pinned otherwise                             -> cannot judge (pinned by something the
                                                          probe does not vary: the URL, a header)
    fresh spread, jar pinned                           -> sticky by cookie NAME, NAME the cookies
                                                          that alone keep a request on the jar's
                                                          backend (all of the jar's if none does)
    fresh spread, jar spread                           -> not sticky

A cookie the backend sets for itself (an app session) is in the jar but does not pin its replay,
so it is never named; and when fresh clients spread and the jar spreads too, no cookie matters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# A case counts as pinned when this share of its answers came from one backend: a failover in
# the middle of a check moves a few requests, a round robin over two backends never gets near.
PIN_SHARE = 0.9


class Unjudgeable(Exception):
    """The observations cannot tell sticky from not sticky; the message says why."""


@dataclass(frozen=True, slots=True)
class Case:
    """One run of requests: which backend answered each (``None``: no name, or a 5xx)."""

    label: str
    answers: tuple[str | None, ...]
    source: str = "127.0.0.1"
    cookie: str = ""  # the one cookie a replay carries

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(a for a in self.answers if a is not None)

    @property
    def unnamed(self) -> int:
        return sum(1 for a in self.answers if a is None)


@dataclass(frozen=True, slots=True)
class Observations:
    """Everything the probe saw; ``jar_first`` is the jar's first answer, sent with no cookie."""

    fresh: Case
    jar: Case
    jar_first: str | None = None
    jar_cookies: tuple[str, ...] = ()
    replays: tuple[Case, ...] = ()
    addresses: tuple[Case, ...] = ()
    notes: tuple[str, ...] = ()  # what the probe could not do (an address it could not bind)

    def cases(self) -> tuple[Case, ...]:
        return (self.fresh, self.jar, *self.replays, *self.addresses)

    def fresh_backends(self) -> set[str]:
        return set(self.fresh.backends)

    def seen(self) -> set[str]:
        names = {b for case in self.cases() for b in case.backends}
        return names | ({self.jar_first} if self.jar_first else set())


@dataclass(frozen=True, slots=True)
class Verdict:
    """``line`` is exactly ``not sticky``, ``sticky by cookie NAME`` or ``sticky by client
    address``; ``reason`` is one sentence of evidence."""

    line: str
    reason: str

    @property
    def sticky(self) -> bool:
        return self.line != "not sticky"


def distribution(backends: Iterable[str]) -> list[tuple[str, int]]:
    """Requests per backend, by backend name."""
    return sorted(Counter(backends).items())


def pinned_to(case: Case) -> str | None:
    """The backend that answered at least ``PIN_SHARE`` of the case, if any."""
    backends = case.backends
    if not backends:
        return None
    name, count = Counter(backends).most_common(1)[0]
    return name if count >= PIN_SHARE * len(backends) else None


def judge(obs: Observations) -> Verdict:
    """The verdict; raises ``Unjudgeable`` when the observations cannot tell."""
    seen = obs.seen()
    total = sum(len(case.answers) for case in obs.cases()) + (1 if obs.jar_first else 0)
    if not seen:
        raise Unjudgeable(f"none of the {total} answers named the backend that served it")
    if len(seen) == 1:
        raise Unjudgeable(
            f"only one backend ({next(iter(seen))}) answered all {total} requests: either there"
            " is only one, or every client is pinned to it; nothing can be judged"
        )
    if pinned_to(obs.fresh) is not None:
        return _by_address(obs)
    home = pinned_to(obs.jar)
    if home is None:
        return Verdict("not sticky", _spread_reason(obs, seen))
    return _by_cookie(obs, home)


def _by_address(obs: Observations) -> Verdict:
    fresh = obs.fresh
    homes = [pinned_to(case) for case in (fresh, *obs.addresses)]
    distinct = {h for h in homes if h is not None}
    if obs.addresses and None not in homes and len(distinct) >= 2:
        return Verdict(
            "sticky by client address",
            f"each of {len(homes)} client addresses stayed on one backend with no cookie,"
            f" and they were spread over {len(distinct)} backends: {', '.join(sorted(distinct))}",
        )
    why = (
        "the other source addresses were not pinned, or all went to the same backend"
        if obs.addresses
        else "no other source address could be tried"
    )
    raise Unjudgeable(
        f"clients with no cookie from {fresh.source} all reached {pinned_to(fresh)} though"
        f" other backends exist, but {why}: something the probe does not vary pins them"
    )


def _by_cookie(obs: Observations, home: str) -> Verdict:
    if not obs.jar_cookies:
        raise Unjudgeable(
            f"one client stayed on {home} without holding any cookie while fresh clients"
            " spread: neither a cookie nor the address explains it"
        )
    pins = [r.cookie for r in obs.replays if pinned_to(r) == home]
    name = ",".join(pins) if pins else "+".join(obs.jar_cookies)
    alone = (
        f"only {_names(pins)} kept a request there on {'its' if len(pins) == 1 else 'their'} own"
        if pins
        else "no single cookie of the jar did on its own"
    )
    return Verdict(
        f"sticky by cookie {name}",
        f"fresh clients spread over {len(obs.fresh_backends())} backends; the client keeping"
        f" its cookies ({_names(obs.jar_cookies)}) stayed on {home}; {alone}",
    )


def _spread_reason(obs: Observations, seen: set[str]) -> str:
    cookies = f" though it held {_names(obs.jar_cookies)}" if obs.jar_cookies else ""
    return (
        f"fresh clients spread over {len(obs.fresh_backends())} backends and the client keeping"
        f" its cookie jar spread too{cookies}; {len(seen)} backends answered in all"
    )


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "no cookie"
