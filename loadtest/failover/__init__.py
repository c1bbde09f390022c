"""``make failover``: a Redis primary killed under load, measured with and without ``WAIT``.

``clients`` drives correct clients through the balancer (asyncio, aiohttp) and records every
answer; ``measure`` turns that and the orders read back into the table (pure); ``run`` starts an
HA cluster per variant, kills the primary, and prints the table.
"""
