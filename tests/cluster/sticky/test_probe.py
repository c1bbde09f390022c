"""The probe's cases through its swap point: small functions play the balancers, no network."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest

from cluster.sticky.probe import (
    Answer,
    Plan,
    Send,
    SourceUnavailable,
    by_header,
    by_json_field,
    default_sources,
    run,
    update_jar,
)
from cluster.sticky.verdict import Unjudgeable, judge, pinned_to

NAMES = ("b1", "b2", "b3")


def backend(name: str) -> Answer:
    """What a stand-in backend answers; b1 sets its own session cookie every time."""
    headers = [("X-Served-By", name), ("Content-Type", "application/json")]
    if name == "b1":
        headers.append(("Set-Cookie", "app_session=s3cr3t; Path=/; HttpOnly"))
    return Answer(200, tuple(headers), f'{{"node": "{name}"}}'.encode())


def round_robin() -> Send:
    turn = itertools.cycle(NAMES)
    return lambda source, cookies: backend(next(turn))


def cookie_insert() -> Send:
    """HAProxy's ``cookie SRV insert indirect``: a known SRV goes home, others get one."""
    turn = itertools.cycle(NAMES)

    def send(source: str, cookies: Mapping[str, str]) -> Answer:
        if cookies.get("SRV") in NAMES:
            return backend(cookies["SRV"])
        name = next(turn)
        answer = backend(name)
        return Answer(200, (*answer.headers, ("Set-Cookie", f"SRV={name}; path=/")), answer.body)

    return send


def source_hash() -> Send:
    return lambda source, cookies: backend(NAMES[sum(map(int, source.split("."))) % 3])


def one_backend() -> Send:
    return lambda source, cookies: backend("b2")


@pytest.mark.parametrize(
    ("balancer", "line"),
    [
        (round_robin, "not sticky"),
        (cookie_insert, "sticky by cookie SRV"),
        (source_hash, "sticky by client address"),
    ],
)
def test_each_balancer_gets_its_verdict(balancer: Callable[[], Send], line: str) -> None:
    assert judge(run(balancer(), by_header("X-Served-By"), Plan())).line == line


def test_the_app_cookie_is_held_and_replayed_but_not_named() -> None:
    # 30 fresh requests bring the rotation back to b1, so the jar's first answer sets both.
    obs = run(cookie_insert(), by_header("x-served-by"), Plan())
    assert obs.jar_first == "b1" and obs.jar_cookies == ("app_session", "SRV")
    replayed = {case.cookie: pinned_to(case) for case in obs.replays}
    assert replayed == {"app_session": None, "SRV": "b1"}
    assert judge(obs).line == "sticky by cookie SRV"


def test_one_backend_cannot_be_judged() -> None:
    with pytest.raises(Unjudgeable, match="only one backend"):
        judge(run(one_backend(), by_header("X-Served-By"), Plan()))


def test_the_plan_sizes_its_cases() -> None:
    seen: list[tuple[str, tuple[str, ...]]] = []
    rr = round_robin()

    def recording(source: str, cookies: Mapping[str, str]) -> Answer:
        seen.append((source, tuple(cookies)))
        return rr(source, cookies)

    obs = run(recording, by_header("X-Served-By"), Plan(requests=12, sources=default_sources(4)))
    assert len(obs.fresh.answers) == 12 and len(obs.jar.answers) == 11
    assert [len(c.answers) for c in obs.addresses] == [4, 4, 4]
    assert [c.source for c in obs.addresses] == ["127.0.1.1", "127.0.2.1", "127.0.3.1"]
    assert all(len(cookies) <= 1 for source, cookies in seen if source != "127.0.0.1")


def test_an_address_that_cannot_be_bound_is_a_note() -> None:
    rr = round_robin()

    def send(source: str, cookies: Mapping[str, str]) -> Answer:
        if source == "127.0.2.1":
            raise SourceUnavailable("cannot bind 127.0.2.1")
        return rr(source, cookies)

    obs = run(send, by_header("X-Served-By"), Plan(sources=default_sources(4)))
    assert [c.source for c in obs.addresses] == ["127.0.1.1"]
    assert "127.0.2.1" in obs.notes[0]


def test_no_address_varied_off_loopback() -> None:
    obs = run(round_robin(), by_header("X-Served-By"), Plan(sources=("",)))
    assert obs.addresses == () and "not on loopback" in obs.notes[0]


def test_a_5xx_names_no_backend() -> None:
    def send(source: str, cookies: Mapping[str, str]) -> Answer:
        return Answer(503, (("X-Served-By", "balancer"),))

    obs = run(send, by_header("X-Served-By"), Plan(requests=4))
    assert obs.fresh.unnamed == 4 and obs.seen() == set()


def test_default_sources_vary_the_third_octet() -> None:
    # nginx's ip_hash keys on three octets: 127.0.0.2 would be the same client as 127.0.0.1.
    assert default_sources(3) == ("127.0.0.1", "127.0.1.1", "127.0.2.1")


@pytest.mark.parametrize(
    ("body", "path", "name"),
    [
        (b'{"node": "b2"}', "node", "b2"),
        (b'{"meta": {"node": 3}}', "meta.node", "3"),
        (b'{"node": ""}', "node", None),
        (b'{"node": ["b2"]}', "node", None),
        (b'{"other": 1}', "node", None),
        (b"not json", "node", None),
        (b"[1, 2]", "node", None),
    ],
)
def test_by_json_field(body: bytes, path: str, name: str | None) -> None:
    assert by_json_field(path)(Answer(200, (), body)) == name


def test_by_header_ignores_case_and_empty_values() -> None:
    answer = Answer(200, (("x-served-by", "b1"), ("X-Empty", "")))
    assert by_header("X-Served-By")(answer) == "b1"
    assert by_header("X-Empty")(answer) is None


NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "set_cookies", "after"),
    [
        ({}, ["SRV=s1; path=/"], {"SRV": "s1"}),
        ({"SRV": "s1"}, ["SRV=s2"], {"SRV": "s2"}),
        ({"a": "1"}, ["b=2; HttpOnly", "c=3; Secure"], {"a": "1", "b": "2", "c": "3"}),
        ({"a": "1"}, ["a=; Max-Age=0"], {}),
        ({"a": "1"}, ["a=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], {}),
        ({}, ["a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT"], {"a": "1"}),
        ({}, ["a=1; Expires=not a date"], {"a": "1"}),
        ({}, ["garbage", "=nameless"], {}),
    ],
)
def test_update_jar(before: dict[str, str], set_cookies: list[str], after: dict[str, str]) -> None:
    jar = dict(before)
    update_jar(jar, set_cookies, now=NOW)
    assert jar == after
