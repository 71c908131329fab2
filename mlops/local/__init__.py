"""The local twin of Azure ML: runs the pipeline YAML on one machine.

``runner``/``pipeline`` execute a pipeline job through the :mod:`mlops.amlspec` model,
``component``, ``sweep``, ``parallel`` and ``automl`` run each job kind, ``environments``
and ``data`` stand in for Azure ML environments and data assets, ``reuse`` skips
unchanged steps. A floor: the command areas may import it; it imports no area.
"""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "train": "Run the training pipeline YAML on this machine: prep, train, evaluate, register.",
    "run": "Run any Azure ML pipeline job YAML on this machine, as `az ml job create` would.",
    "data": "Local data assets (like `az ml data`).",
}
