"""Synthetic NYC TLC trip data for the sample, the tests and the benchmarks."""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("generate-data",)
