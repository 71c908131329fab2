"""The local twin of Azure DevOps: compile and run this repository's pipelines."""
