"""``cluster trace ID``: one request's path through the balancer and the nodes, from their JSON
logs. ``path`` and ``render`` are pure (table-tested); ``sources`` reads the logs of either
runtime; ``cli`` is the command."""
