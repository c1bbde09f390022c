"""``make bloat``: what a fat JWT costs and where it breaks, against the lean token and a profile
read from Redis. ``tokens`` and ``limits`` are pure; ``servers`` starts what is measured;
``run`` measures; ``plot`` draws."""
