"""``make compare``: the stateless cluster against its stateful twin, under the same load and chaos.

``locustfile.py`` (the users, gevent), ``run.py`` (the three runs), ``table.py`` (pure: the
figures and the closing lines), ``plot.py`` (the picture).
"""
