"""Model monitoring: drift and data quality signals, locally and as Azure ML monitors."""
