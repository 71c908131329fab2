"""Offline checks of every Azure-facing file: Azure ML specs, Azure DevOps YAML, config."""
