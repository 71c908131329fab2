"""Offline checks of every Azure-facing file (``mlops validate``): Azure ML specs
(``aml_*``, over :mod:`mlops.amlspec`), Azure DevOps YAML (``ado_*``, compiled with
:mod:`mlops.ado`'s expander) and the config-infra files (``config_*``); ``run`` wires them.
"""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "validate": (
        "Check Azure ML specs, Azure DevOps YAML and config-infra files; exit 1 on any finding."
    ),
}
