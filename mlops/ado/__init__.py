"""The local twin of Azure DevOps: compile and run this repository's pipelines.

``expand`` compiles templates and expressions, ``runner`` runs the jobs' steps, ``az/``
emulates the ``az ml`` subset and SDK seam they call, backed by the local twin.
"""
