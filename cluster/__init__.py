"""What the node, the balancer and the tools share.

- ``problem``: RFC 9457 problem+json bodies and responses.
- ``jsonlog``: one JSON object per log line, with the request id.
- the runtimes that start and find nodes as local processes or containers (``cluster up``,
  ``chaos-kill``).
"""
