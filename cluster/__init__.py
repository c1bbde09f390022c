"""The operations tool: the runtimes that start, find and act on the cluster, the ``cluster`` CLI
and ``chaos-kill``. The services never import it (they share ``servicekit``).

- ``actions``: the chaos vocabulary (``Action``, ``Event``), defined once.
- ``config``: the settings of ``cluster`` and ``chaos-kill``.
- ``cli``: ``cluster up|down|status|restart|scale``.
- ``runtime``: the ``Runtime`` seam, its choice, the local runtime with its process plumbing
  (spawn, ``/proc``, ports, the Redis server), and ``runtime.docker``.
- ``chaos``: ``chaos-kill`` (``kill``) around its pure planner (``plan``).

Commands, ports and settings: docs/operations.md.
"""
