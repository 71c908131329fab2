"""Offline checks of every Azure-facing file (``mlops validate``): Azure ML specs
(``aml_*``, over :mod:`mlops.amlspec`), Azure DevOps YAML (``ado_*``, compiled with
:mod:`mlops.ado`'s expander) and the config-infra files (``config_*``); ``run`` wires them.
"""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("validate",)
