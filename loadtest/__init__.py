"""Load, measurement and the demo: everything that drives the cluster from outside, as clients.

- ``locustfile``: Locust users that behave like correct clients (runs in Locust's own, gevent-
  patched process: it imports only ``servicekit.demo_users``).
- ``demo``: ``make demo``: cluster up, Locust load, chaos-kill mid-load, verification, report,
  cluster down.
- ``verify``: the invariants over every acknowledged write (pure), checked through the API.
- ``report``: the timeline (HTML + PNG) joining Locust's history, the chaos log and the
  balancer's counters.
- ``api``: blocking API calls and the demo login, for the tools outside Locust and asyncio.
- ``bench``: ``make bench`` (all of them, one summary), ``bench-balancer``, ``bench-node``,
  ``bench-scale``, ``bench-overload``, with HAProxy and nginx as peers.
- ``paradox``: ``make paradox``, the JWT revocation modes measured side by side.

Nothing outside ``loadtest`` imports it except the tests; it imports the operations tool
(``cluster``) to start clusters and ``servicekit`` for the demo accounts.
"""
