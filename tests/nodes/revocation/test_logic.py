"""The revocation's pure parts: the in-memory set, the messages, the breaker, the log throttle."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from nodes.revocation.base import MODES, TokenRef
from nodes.revocation.cached import CachedRevocation
from nodes.revocation.denylist import DenylistRevocation, FailOpenDenylistRevocation
from nodes.revocation.factory import BUILDERS, create_revocation
from nodes.revocation.guard import Breaker, BreakerState, LogThrottle
from nodes.revocation.none import NoRevocation
from nodes.revocation.store import JtiRevoked, NotBefore, RevokedSet, decode_event, encode_event

T0 = 1_800_000_000


def token(jti: str = "j1", sub: str = "alice", iat: int = T0, exp: int = T0 + 900) -> TokenRef:
    return TokenRef(jti=jti, sub=sub, iat=iat, exp=exp)


@pytest.mark.parametrize("event", [JtiRevoked("j1", T0), NotBefore("alice", T0)])
def test_messages_round_trip(event: JtiRevoked | NotBefore) -> None:
    assert decode_event(encode_event(event)) == event
    assert decode_event(encode_event(event).encode()) == event


@pytest.mark.parametrize("raw", ["", "[]", '{"t": "jti"}', '{"t": "xyz", "sub": "a"}', "nope"])
def test_foreign_messages_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        decode_event(raw)


def test_set_rejects_a_listed_jti_only() -> None:
    revoked = RevokedSet(max_token_ttl=900)
    revoked.apply(JtiRevoked("j1", T0 + 900))
    assert revoked.contains(token("j1"))
    assert not revoked.contains(token("j2"))


def test_not_before_takes_back_tokens_issued_before_it() -> None:
    revoked = RevokedSet(max_token_ttl=900)
    revoked.apply(NotBefore("alice", T0 + 10))
    assert revoked.contains(token("a", iat=T0 + 9))
    # Issued in the logout-all's second or later: valid (a fresh login is not locked out).
    assert not revoked.contains(token("b", iat=T0 + 10))
    assert not revoked.contains(token("c", sub="bob", iat=T0))


def test_a_later_not_before_wins_and_an_earlier_one_is_ignored() -> None:
    revoked = RevokedSet(max_token_ttl=900)
    revoked.apply(NotBefore("alice", T0 + 10))
    revoked.apply(NotBefore("alice", T0 + 5))
    assert revoked.not_before == {"alice": T0 + 10}


def test_prune_forgets_what_no_live_token_can_match() -> None:
    revoked = RevokedSet(max_token_ttl=900)
    revoked.apply(JtiRevoked("old", T0 + 5))
    revoked.apply(JtiRevoked("live", T0 + 500))
    revoked.apply(NotBefore("alice", T0 - 1000))
    revoked.apply(NotBefore("bob", T0 - 100))
    revoked.prune(now=T0 + 10)
    assert revoked.jtis == {"live": T0 + 500}
    assert revoked.not_before == {"bob": T0 - 100}
    assert len(revoked) == 2


def test_merge_is_a_union_and_returns_what_the_snapshot_lacks() -> None:
    revoked = RevokedSet(max_token_ttl=900)
    revoked.apply(JtiRevoked("mine", T0 + 900))
    revoked.apply(NotBefore("alice", T0 + 20))
    missing = revoked.merge([JtiRevoked("theirs", T0 + 900), NotBefore("alice", T0 + 10)])
    assert set(revoked.jtis) == {"mine", "theirs"}
    assert revoked.not_before == {"alice": T0 + 20}
    assert sorted(map(repr, missing)) == sorted(
        map(repr, [JtiRevoked("mine", T0 + 900), NotBefore("alice", T0 + 20)])
    )
    everything = [JtiRevoked(j, T0 + 900) for j in ("mine", "theirs")]
    assert revoked.merge([*everything, NotBefore("alice", T0 + 20)]) == []


def test_breaker_opens_only_after_failures_in_a_row() -> None:
    breaker = Breaker(open_for=1.0, threshold=3)
    for now in (0.0, 0.1):
        breaker.failure(now)
        assert breaker.allow(now)
    breaker.success()  # one slow call on a busy machine is not an outage
    breaker.failure(0.2)
    breaker.failure(0.3)
    assert breaker.allow(0.3)
    breaker.failure(0.4)
    assert not breaker.allow(0.5)


def test_breaker_fails_fast_then_lets_one_trial_through() -> None:
    breaker = Breaker(open_for=1.0, threshold=1)
    assert breaker.allow(0.0)
    breaker.failure(0.0)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(0.5)
    assert breaker.allow(1.0)  # the trial
    assert breaker.state.value == "half-open"
    assert not breaker.allow(1.1)  # only one trial at a time
    breaker.success()
    assert breaker.allow(1.2)
    assert breaker.state.value == "closed"


def test_breaker_reopens_on_a_failed_trial_and_survives_a_lost_one() -> None:
    breaker = Breaker(open_for=1.0, threshold=2)
    breaker.failure(0.0)
    breaker.failure(0.0)
    assert breaker.allow(1.0)
    breaker.failure(1.0)
    assert not breaker.allow(1.5)
    assert breaker.allow(2.0)  # trial, never answered (its request was cancelled)
    assert not breaker.allow(2.5)
    assert breaker.allow(3.0)  # a new trial instead of a wedged half-open


def test_log_throttle_lets_one_line_per_interval_and_counts_the_rest() -> None:
    throttle = LogThrottle(every=5.0)
    assert throttle.take(0.0) == 0
    assert throttle.take(1.0) is None
    assert throttle.take(2.0) is None
    assert throttle.take(5.0) == 2
    assert throttle.take(5.1) is None


@pytest.mark.parametrize(
    ("mode", "cls"),
    [
        ("none", NoRevocation),
        ("denylist", DenylistRevocation),
        ("denylist-fail-open", FailOpenDenylistRevocation),
        ("cached", CachedRevocation),
    ],
)
def test_factory_builds_each_mode(mode: str, cls: type) -> None:
    revocation = create_revocation(mode, Redis(), CollectorRegistry())
    assert isinstance(revocation, cls)
    assert revocation.mode == mode
    assert revocation.status()["mode"] == mode
    assert mode in MODES


def test_the_factory_knows_exactly_the_modes_the_setting_allows() -> None:
    assert sorted(BUILDERS) == sorted(MODES)


def test_factory_names_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="REVOCATION='jwks'"):
        create_revocation("jwks", Redis(), CollectorRegistry())
