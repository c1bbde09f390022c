"""``make bench-scale``: throughput against node count (``run``), its figures (``model``, pure)
and its picture (``plot``)."""
