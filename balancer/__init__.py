"""The round-robin balancer: a lean HTTP/1.1 reverse proxy in front of the API nodes.

Pure decisions (no I/O, unit-tested):

- ``pick``: the round-robin choice and the least-recently-failed fallback;
- ``health``: the per-backend health state machine (up, down, draining; rise/fall);
- ``retry``: may this request be sent again, and is the retry budget left;
- ``headers``: request and response header rewriting (hop-by-hop, ids, tracing, forwarding).

I/O around them: ``server`` (client connections, limits, admin endpoints), ``exchange`` (one
forwarded request and its attempts), ``upstream`` (pooled keep-alive connections to backends),
``probes`` (active ``/readyz`` checks), ``discovery`` (DNS re-resolution), ``app`` (lifecycle).
"""
