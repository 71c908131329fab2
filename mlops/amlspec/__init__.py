"""One model of Azure ML CLI v2 YAML, shared by ``mlops validate`` and the local runner.

``files`` loads YAML with lines, ``expressions`` parses ``${{...}}``, ``ports`` holds
declared inputs and outputs, ``references`` parses ``azureml:`` references,
``catalogue`` finds named assets, ``components`` and ``jobs`` build the model,
``graph`` orders jobs (one cycle search), ``rules`` lists what is wrong with a spec.
"""
