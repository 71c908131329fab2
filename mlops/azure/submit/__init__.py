"""``mlops azure submit``: run a training pipeline on Azure ML from a laptop, without Azure DevOps.

The one seam to Azure ML is :func:`mlops.aml_client.ml_client` (looked up at call
time, so tests and the emulated Azure of ``mlops ado`` can replace it). Everything this
package does with the returned client is listed in :class:`.client.AzureMLClient`.
"""
