"""``python -m loadtest.bench.scale``: see ``loadtest.bench.scale.run``."""

from loadtest.bench.scale.run import main

raise SystemExit(main())
