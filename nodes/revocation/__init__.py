"""How a node decides whether a verified token has been taken back (``REVOCATION``).

Modules, and what each imports of this package (no cycle; this file imports nothing):

    base      the seam: ``Revocation``, ``TokenRef``, ``RevocationSettings``, errors, ``MODES``
    guard     pure: the circuit breaker and the log throttle
    store     the Redis keys every mode shares, and the pure in-memory revoked set    → base
    none      mode ``none``                                                           → base
    denylist  modes ``denylist`` and ``denylist-fail-open``             → base, guard, store
    cached    mode ``cached``                                           → base, guard, store
    factory   ``create_revocation(mode, …)``: the one module that knows every mode
                                                           → base, none, denylist, cached

Classes:

    Revocation (abstract, base)
     ├── NoRevocation                  "none": nothing is stored or checked; logout cannot take
     │                                  a token back before its ``exp``
     ├── DenylistRevocation            "denylist": one Redis round trip per request; Redis down
     │    │                             → ``RevocationUnavailable`` (503, fail closed)
     │    └── FailOpenDenylistRevocation "denylist-fail-open": Redis down → the token is
     │                                    accepted, counted and logged
     └── CachedRevocation              "cached": an in-memory set kept current by pub/sub and a
                                        periodic resync; no Redis call on the request path

Callers import from the modules (``nodes.revocation.base``, ``nodes.revocation.factory``);
this file re-exports nothing.
"""
