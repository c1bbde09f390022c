"""The benchmarks: ``balancer`` (this balancer vs HAProxy, nginx, direct) and ``node`` (one node
vs a bare aiohttp handler), over ``targets``, ``peers``, ``measure`` and ``wrk``."""
