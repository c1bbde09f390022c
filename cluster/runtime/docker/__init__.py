"""The Docker runtime: ``runtime`` (the ``Runtime``), ``compose`` (Compose CLI, SDK client,
images, secret), ``model`` (pure decisions), ``config`` (its settings)."""
