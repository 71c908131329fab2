"""``python -m mlops.ado.az``: the ``az`` of the emulated agent."""

import sys

from mlops.ado.az.cli import main

sys.exit(main())
