"""``cluster check-sticky``: does a balancer pin clients to a backend, and by what?

verdict.py   the decision from observations (pure, table-tested)
probe.py     the requests each case sends, through one swap point (``Send``)
transport.py the only network code: one ``http.client`` request from a chosen source address
manifest.py  the Kubernetes YAML lint (Services with ClientIP affinity, ingress-nginx
             affinity annotations), pure
report.py    the verdict line and the evidence, as text
cli.py       the argparse entry, ``main(argv) -> int``
"""
