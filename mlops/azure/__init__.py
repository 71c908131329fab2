"""Azure-side helpers the Azure DevOps templates call (``mlops azure ...``).

Polling, downloads and decisions live here, with tests, so the pipeline YAML only
orchestrates. Nothing in this package runs at import time or reaches Azure in tests.
"""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("azure",)
