"""chaos-kill: the schedule's I/O loop (``kill``) around its pure decisions (``plan``)."""
