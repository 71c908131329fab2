"""Azure-side helpers the Azure DevOps templates call (``mlops azure ...``).

Polling, downloads and decisions live here, with tests, so the pipeline YAML only
orchestrates. Nothing in this package runs at import time or reaches Azure in tests.
"""
