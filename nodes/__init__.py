"""The stateless API node: ``python -m nodes``, ``create_app(NodeConfig.from_env())``.

Every request carries a Bearer JWT; users, orders and idempotency records live in Redis, so any
node can answer any request and a node can stop at any moment.
"""
