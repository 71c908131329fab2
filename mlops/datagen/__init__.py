"""Synthetic NYC TLC trip data for the sample, the tests and the benchmarks."""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "generate-data": "Write green_*.csv and yellow_*.csv trip records (about 35% green).",
}
