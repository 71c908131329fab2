"""Local and Azure endpoints: serving, batch scoring, smoke tests and blue/green rollout.

``local_server``/``inference_server`` run score.py in the Azure ML inference server,
``batch`` runs batch_score.py, ``smoke`` and ``scoring_client`` speak the online endpoint
contract, ``rollout`` plans blue/green traffic for the ``local_endpoint`` and
``azure_rollout`` executors, ``local_deploy`` is promotion's local deployer. Which
version an environment serves comes from :mod:`mlops.registry.model_source`.
"""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("serve", "batch-score", "smoke-test", "rollout")
