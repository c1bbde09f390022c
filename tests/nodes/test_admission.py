"""Admission of logins: the pure decision (`nodes.admission`), the estimate, the settings."""

from __future__ import annotations

import pytest

from nodes.admission import PRIOR_SERVICE_SECONDS, ServiceTime, decide, estimated_wait
from nodes.config import ConfigError, NodeConfig
from nodes.cpu_gate import default_concurrency


@pytest.mark.parametrize(
    ("queued", "running", "concurrency", "service", "bound", "admitted", "wait", "retry_after"),
    [
        # A free thread: no wait, whatever the estimate and the bound (even a bound of 0).
        (0, 0, 1, 0.05, 1.0, True, 0.0, 1),
        (0, 1, 2, 10.0, 0.0, True, 0.0, 1),
        (1, 0, 2, 10.0, 0.0, True, 0.0, 1),
        # Every thread taken: the newcomer starts at the next completion(s).
        (0, 1, 1, 0.05, 1.0, True, 0.05, 1),
        (0, 2, 2, 0.05, 1.0, True, 0.025, 1),
        (3, 1, 1, 0.05, 1.0, True, 0.2, 1),
        # Exactly at the bound is admitted; one more job ahead is shed.
        (19, 1, 1, 0.05, 1.0, True, 1.0, 1),
        (20, 1, 1, 0.05, 1.0, False, 1.05, 2),
        (38, 2, 2, 0.05, 1.0, True, 0.975, 1),
        (40, 2, 2, 0.05, 1.0, False, 1.025, 2),
        # A bound of 0: no queue at all.
        (0, 1, 1, 0.05, 0.0, False, 0.05, 1),
        # A slow machine (three nodes' threads on two cores): the estimate carries it.
        (10, 2, 2, 0.15, 1.0, True, 0.825, 1),
        (20, 2, 2, 0.15, 1.0, False, 1.575, 2),
        # Retry-After rounds the estimated wait up, in whole seconds.
        (59, 1, 1, 0.05, 1.0, False, 3.0, 3),
    ],
)
def test_decision_table(
    queued: int,
    running: int,
    concurrency: int,
    service: float,
    bound: float,
    admitted: bool,
    wait: float,
    retry_after: int,
) -> None:
    verdict = decide(queued, running, concurrency, service, bound)
    assert verdict.admitted is admitted
    assert verdict.wait == pytest.approx(wait)
    assert verdict.retry_after == retry_after


def test_the_wait_grows_with_the_queue_and_shrinks_with_threads() -> None:
    waits = [estimated_wait(q, 2, 2, 0.05) for q in range(10)]
    assert waits == sorted(waits) and waits[0] > 0
    assert estimated_wait(6, 4, 4, 0.05) < estimated_wait(6, 2, 2, 0.05)


def test_the_estimate_starts_from_the_prior_then_the_first_measurement() -> None:
    estimate = ServiceTime()
    assert estimate.value == PRIOR_SERVICE_SECONDS and estimate.samples == 0
    estimate.observe(0.2)
    assert estimate.value == 0.2  # a calibration replaces the prior outright


def test_the_estimate_moves_a_fifth_of_the_way_to_each_measurement() -> None:
    estimate = ServiceTime(prior=0.05)
    estimate.observe(0.05)
    estimate.observe(0.15)
    assert estimate.value == pytest.approx(0.07)
    for _ in range(20):  # a sustained change of load is followed within a few samples
        estimate.observe(0.15)
    assert estimate.value == pytest.approx(0.15, rel=0.01)


def test_one_outlier_moves_the_estimate_boundedly() -> None:
    estimate = ServiceTime(prior=0.05)
    estimate.observe(0.05)
    estimate.observe(4.0)  # a SIGSTOP in the middle of a hash
    assert estimate.value == pytest.approx(0.84)
    for _ in range(10):
        estimate.observe(0.05)
    assert estimate.value < 0.15


def test_negative_durations_are_ignored() -> None:
    estimate = ServiceTime(prior=0.05)
    estimate.observe(-1.0)
    assert estimate.value == 0.05 and estimate.samples == 0


@pytest.mark.parametrize(("prior", "alpha"), [(0.0, 0.2), (0.05, 0.0), (0.05, 1.5)])
def test_bad_estimator_settings_are_refused(prior: float, alpha: float) -> None:
    with pytest.raises(ValueError):
        ServiceTime(prior=prior, alpha=alpha)


# --- the settings (a block of their own in NodeConfig) ---------------------------------------

_ENV = {"JWT_SECRET": "s" * 32, "NODE_NAME": "n1"}


def test_login_settings_default_to_the_machine_and_one_second() -> None:
    config = NodeConfig.from_env(_ENV)
    assert (config.login_concurrency, config.login_queue_seconds) == (0, 1.0)  # 0: the CPUs
    assert default_concurrency() >= 1


def test_login_settings_are_read() -> None:
    config = NodeConfig.from_env({**_ENV, "LOGIN_CONCURRENCY": "3", "LOGIN_QUEUE_SECONDS": "0.5"})
    assert (config.login_concurrency, config.login_queue_seconds) == (3, 0.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOGIN_CONCURRENCY", "-1"), ("LOGIN_CONCURRENCY", "two"), ("LOGIN_QUEUE_SECONDS", "61")],
)
def test_a_bad_login_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        NodeConfig.from_env({**_ENV, name: value})
