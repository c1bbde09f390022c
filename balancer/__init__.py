"""The round-robin balancer: a lean HTTP/1.1 reverse proxy in front of the API nodes.

Pure decisions (no I/O, unit-tested):

- ``pick``: the round-robin choice and the least-recently-failed fallback;
- ``health``: the per-backend health state machine (up, down, draining; rise/fall);
- ``retry``: may this request be sent again, and is the retry budget left;
- ``headers``: request and response header rewriting (hop-by-hop, ids, forwarding, ``Host``);
  ``tracing``: request ids and trace context;
- ``target``: origin-form targets, ``Host`` syntax, what the public port will not forward;
- ``events``: the numbered log of health, pool and chaos events (the dashboard's feed).

The seams of the proxy core, with no import of the balancer (``typing.Protocol``s and a callable,
each saying who calls it): ``seams``.

I/O around the pure parts, on asyncio protocols with httptools (no aiohttp on the request path):

- ``server``: client connections of both listeners, header and body limits, client timeouts;
  ``public``: the public port's dispatch (forward, or 404 the admin surface and ``/metrics``);
- ``request``: a parsed client request; ``exchange``: its attempts, retries and the streamed
  response, seeing the client and the backends only through ``seams``;
- ``upstream``: opening (``Dialer``) and parsing one pooled keep-alive backend connection, with
  its per-try timer;
- ``pool``: the backends and their idle connections; ``counters``: every counter of the process;
- ``probes``: active ``GET /readyz`` checks (aiohttp client); ``discovery``: the backend list
  changing at run time (DNS re-resolution, ``PUT /_lb/backends``);
- ``admin``: the admin listener (a package: ``/_lb/status``, ``/_lb/metrics``,
  ``/_lb/backends``, the live dashboard and its event stream); ``answers``: the balancer's own
  answers (pure); ``context``: what connections share;
- ``config``: settings from the environment; ``app``: the factory and lifecycle.

Imports form a DAG (type-only imports included): ``seams``, ``counters`` and the pure modules at
the bottom; ``upstream`` knows only ``seams``; ``exchange`` knows ``context``, ``pool``,
``retry``, ``headers``, ``request`` and ``seams``, never ``server`` or ``upstream``; ``server``
imports ``exchange`` (for its type), ``public`` and ``admin`` import ``server``; ``app`` wires
both listeners, ``upstream`` and the rest together.
"""
