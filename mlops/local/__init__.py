"""The local twin of Azure ML: runs the pipeline YAML on one machine.

``runner``/``pipeline`` execute a pipeline job through the :mod:`mlops.amlspec` model,
``component``, ``sweep``, ``parallel`` and ``automl`` run each job kind, ``environments``
and ``data`` stand in for Azure ML environments and data assets, ``reuse`` skips
unchanged steps. A floor: the command areas may import it; it imports no area.
"""
