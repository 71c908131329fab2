"""The local twin of Azure ML: runs the pipeline YAML on one machine.

``runner``/``pipeline`` execute a pipeline job through the :mod:`mlops.amlspec` model,
``component``, ``sweep``, ``parallel`` and ``automl`` run each job kind, ``environments``
and ``data`` stand in for Azure ML environments and data assets, ``reuse`` skips
unchanged steps. A floor: the command areas may import it; it imports no area.
"""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("train", "run", "data")
