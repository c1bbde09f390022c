"""The benchmarks: ``balancer`` (this balancer vs HAProxy, nginx, direct), ``node`` (one node
vs a bare aiohttp handler), ``scale`` (1-4 CPU-limited nodes) and ``overload`` (the capacity
curve of logins), over ``targets``, ``peers``, ``measure`` and ``wrk``; ``suite`` runs them all
in one go (``make bench``) and ``summary`` writes the one summary of them."""
