"""The local twin of Azure DevOps: compile and run this repository's pipelines.

``expand`` compiles templates and expressions, ``runner`` runs the jobs' steps, ``az/``
emulates the ``az ml`` subset and SDK seam they call, backed by the local twin.
"""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("ado",)
