"""Azure-side helpers the Azure DevOps templates call (``mlops azure ...``).

Polling, downloads and decisions live here, with tests, so the pipeline YAML only
orchestrates. Nothing in this package runs at import time or reaches Azure in tests.
"""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "azure": "Azure helpers for the Azure DevOps pipelines (wait for jobs, outputs, gate, assets).",
}
