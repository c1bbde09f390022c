from __future__ import annotations

import pytest

from loadtest.bench.wrk import WrkError, parse

SAMPLE = """Running 10s test @ http://127.0.0.1:8080/healthz
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.60ms    0.87ms   8.33ms   86.98%
    Req/Sec     5.23k     1.52k    8.08k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.70ms
     90%    2.56ms
     99%    1.05s
  52000 requests in 10.00s, 0.87MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   5191.88
Transfer/sec:      0.87MB
"""


def test_parse_a_full_report() -> None:
    result = parse(SAMPLE)
    assert result.requests_per_s == 5191.88
    assert result.p50_ms == pytest.approx(0.812)
    assert result.p99_ms == pytest.approx(1050.0)
    assert (result.requests, result.non_2xx, result.socket_errors, result.errors) == (
        52000,
        7,
        5,
        12,
    )


def test_parse_without_errors() -> None:
    text = SAMPLE.replace("  Socket errors: connect 0, read 2, write 0, timeout 3\n", "")
    text = text.replace("  Non-2xx or 3xx responses: 7\n", "")
    assert parse(text).errors == 0


def test_parse_rejects_output_without_latency() -> None:
    with pytest.raises(WrkError):
        parse("Requests/sec: 10\n")
