"""Local and Azure endpoints: serving, batch scoring, smoke tests and blue/green rollout.

``local_server``/``inference_server`` run score.py in the Azure ML inference server,
``batch`` runs batch_score.py, ``smoke`` and ``scoring_client`` speak the online endpoint
contract, ``rollout`` plans blue/green traffic for the ``local_endpoint`` and
``azure_rollout`` executors, ``local_deploy`` is promotion's local deployer. Which
version an environment serves comes from :mod:`mlops.registry.model_source`.
"""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "serve": "Serve a model with the Azure ML inference server and score.py on 127.0.0.1.",
    "batch-score": "Score a folder with batch_score.py as an Azure ML batch deployment would.",
    "smoke-test": "Send sample requests and check status, shape, sane predictions and latency.",
    "rollout": "Blue/green rollout of an online endpoint: plan, run on Azure, or run locally.",
}
