"""The round-robin balancer: a lean HTTP/1.1 reverse proxy in front of the API nodes.

Pure decisions (no I/O, unit-tested):

- ``pick``: the round-robin choice and the least-recently-failed fallback;
- ``health``: the per-backend health state machine (up, down, draining; rise/fall);
- ``retry``: may this request be sent again, and is the retry budget left;
- ``headers``: request and response header rewriting (hop-by-hop, ids, tracing, forwarding).

I/O around them, on asyncio protocols with httptools (no aiohttp on the request path):

- ``server``: client connections, header and body limits, dispatch;
- ``request``: a parsed client request; ``exchange``: its attempts, retries and the streamed
  response;
- ``upstream``: one pooled keep-alive connection to a backend;
- ``pool``: the backends, their counters and idle connections;
- ``probes``: active ``GET /readyz`` checks (aiohttp client); ``discovery``: DNS re-resolution;
- ``admin``: ``/_lb/status`` and ``/_lb/metrics``; ``context``: what connections share;
- ``config``: settings from the environment; ``app``: the factory and lifecycle.
"""
