"""Model monitoring: drift and data quality signals, locally and as Azure ML monitors."""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("monitor", "monitoring")
