"""The admin listener: the balancer's own endpoints, never on the public port, never proxied.

- ``routes``: ``AdminProtocol`` (the listener's connections) and what each path answers;
- ``body``: the request bodies it takes, checked (pure);
- ``metrics``: ``GET /_lb/metrics``, Prometheus text from the counters;
- ``dashboard``: the live dashboard's document, rates from the counters (pure);
- ``live``: ``GET /_lb/events``, the Server-Sent Events stream feeding it;
- ``page``: ``GET /_lb/dashboard``, the self-contained page.
"""
