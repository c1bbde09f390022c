"""``python -m loadtest.failover`` (``make failover``)."""

from __future__ import annotations

import sys

from loadtest.failover.run import main

sys.exit(main())
