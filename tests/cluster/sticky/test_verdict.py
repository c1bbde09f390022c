"""The verdict from observations, as a table: no network, no balancer."""

from __future__ import annotations

import re

import pytest

from cluster.sticky.verdict import Case, Observations, Unjudgeable, judge, pinned_to

RR = ("b1", "b2", "b3") * 10
ADDRESSES = ("127.0.1.1", "127.0.2.1", "127.0.3.1")


def case(answers: tuple[str | None, ...], source: str = "127.0.0.1", cookie: str = "") -> Case:
    return Case("case", answers, source, cookie)


def obs(
    fresh: tuple[str | None, ...] = RR,
    jar: tuple[str | None, ...] = RR[1:],
    cookies: tuple[str, ...] = (),
    replays: dict[str, tuple[str | None, ...]] | None = None,
    addresses: tuple[tuple[str | None, ...], ...] = (RR[:4], RR[1:5], RR[2:6]),
    first: str | None = "b1",
) -> Observations:
    return Observations(
        fresh=case(fresh),
        jar=case(jar),
        jar_first=first,
        jar_cookies=cookies,
        replays=tuple(case(a, cookie=name) for name, a in (replays or {}).items()),
        addresses=tuple(case(a, s) for a, s in zip(addresses, ADDRESSES, strict=False)),
    )


PINNED_B2 = ("b2",) * 29
ROUND_ROBIN_WITH_APP_COOKIE = obs(cookies=("app_session",), replays={"app_session": RR[:10]})
COOKIE_INSERT = obs(
    jar=PINNED_B2,
    cookies=("app_session", "SRV"),
    replays={"app_session": RR[:10], "SRV": ("b2",) * 10},
)
SOURCE_HASH = obs(fresh=("b3",) * 30, jar=("b3",) * 29, addresses=(("b1",) * 4, ("b2",) * 4))


@pytest.mark.parametrize(
    ("observations", "line"),
    [
        pytest.param(obs(), "not sticky", id="round robin"),
        pytest.param(ROUND_ROBIN_WITH_APP_COOKIE, "not sticky", id="an app cookie pins nothing"),
        pytest.param(COOKIE_INSERT, "sticky by cookie SRV", id="cookie insert, named alone"),
        pytest.param(
            obs(jar=PINNED_B2, cookies=("a", "b"), replays={"a": RR[:10], "b": RR[1:11]}),
            "sticky by cookie a+b",
            id="only the whole jar pins",
        ),
        pytest.param(SOURCE_HASH, "sticky by client address", id="source hash"),
        pytest.param(
            obs(jar=("b2",) * 27 + ("b1", "b3"), cookies=("SRV",), replays={"SRV": ("b2",) * 10}),
            "sticky by cookie SRV",
            id="27 of 29 is pinned: a failover moved two",
        ),
        pytest.param(
            obs(fresh=("b3",) * 28 + ("b1", "b2"), jar=("b3",) * 29, addresses=(("b1",) * 4,)),
            "sticky by client address",
            id="a failover moved two requests: still pinned",
        ),
        pytest.param(
            obs(jar=("b1", None, "b1", "b1"), cookies=("SRV",), replays={"SRV": ("b1",) * 6}),
            "sticky by cookie SRV",
            id="unnamed answers (5xx) are left out",
        ),
    ],
)
def test_the_verdict(observations: Observations, line: str) -> None:
    assert judge(observations).line == line


@pytest.mark.parametrize(
    ("observations", "message"),
    [
        pytest.param(
            obs(fresh=(None,) * 30, jar=(None,) * 29, addresses=(), first=None),
            "named the backend",
            id="no backend named",
        ),
        pytest.param(
            Observations(case(("b1",) * 30), case(("b1",) * 29), jar_first="b1"),
            "only one backend (b1)",
            id="one backend",
        ),
        pytest.param(
            obs(fresh=("b3",) * 30, jar=("b3",) * 29, addresses=(RR[:4],)),
            "not pinned",
            id="one address pinned, the others spread",
        ),
        pytest.param(
            obs(fresh=("b3",) * 30, jar=("b3",) * 29, addresses=()),
            "no other source address",
            id="addresses not varied",
        ),
        pytest.param(obs(jar=PINNED_B2), "without holding any cookie", id="pinned, no cookie"),
    ],
)
def test_what_cannot_be_judged(observations: Observations, message: str) -> None:
    with pytest.raises(Unjudgeable, match=re.escape(message)):
        judge(observations)


def test_the_reasons_name_the_evidence() -> None:
    cookie = judge(COOKIE_INSERT)
    assert cookie.sticky and "stayed on b2" in cookie.reason and "only SRV" in cookie.reason
    assert "3 backends" in judge(SOURCE_HASH).reason
    plain = judge(ROUND_ROBIN_WITH_APP_COOKIE)
    assert not plain.sticky and "app_session" in plain.reason


@pytest.mark.parametrize(
    ("answers", "home"),
    [
        (("b1",) * 10, "b1"),
        (("b1",) * 9 + ("b2",), "b1"),
        (("b1",) * 8 + ("b2", "b2"), None),
        (("b1", "b1", "b1", "b2"), None),
        ((None, None), None),
        ((), None),
    ],
)
def test_pinned_means_nine_in_ten(answers: tuple[str | None, ...], home: str | None) -> None:
    assert pinned_to(case(answers)) == home
