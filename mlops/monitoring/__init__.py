"""Model monitoring: drift and data quality signals, locally and as Azure ML monitors."""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "monitor": (
        "Compare target with baseline using the signals and thresholds of the env's Azure ML\n"
        "monitor spec. Exit 0: nothing breached; 3: a signal breached; 1: an error."
    ),
    "monitoring": "What the monitoring pipelines call (Azure ML, Azure DevOps).",
}
