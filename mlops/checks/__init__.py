"""Offline checks of every Azure-facing file (``mlops validate``): Azure ML specs
(``aml_*``, over :mod:`mlops.amlspec`), Azure DevOps YAML (``ado_*``, compiled with
:mod:`mlops.ado`'s expander) and the config-infra files (``config_*``); ``run`` wires them.
"""
