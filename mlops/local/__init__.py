"""The local twin: runs the Azure ML pipeline YAML on one machine."""
