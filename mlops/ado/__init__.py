"""The local twin of Azure DevOps: compile and run this repository's pipelines.

``expand`` compiles templates and expressions, ``runner`` runs the jobs' steps, ``az/``
emulates the ``az ml`` subset and SDK seam they call, backed by the local twin.
"""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "ado": "The local twin of Azure DevOps: expand and run the pipelines, show the emulated Azure.",
}
