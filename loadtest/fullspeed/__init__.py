"""The zero-failure claim at full speed: wrk through the balancer while nodes are killed,
terminated and frozen, then every acknowledged create checked to exist exactly once.

``outcome`` is pure (what wrk's script printed, and the verdict); ``run`` drives a cluster
(``python -m loadtest.fullspeed.run``, ``make fullspeed``); ``load.lua`` is wrk's script.
"""
