"""Local and Azure endpoints: serving, batch scoring, smoke tests and blue/green rollout.

``local_server``/``inference_server`` run score.py in the Azure ML inference server,
``batch`` runs batch_score.py, ``smoke`` and ``scoring_client`` speak the online endpoint
contract, ``rollout`` plans blue/green traffic for the ``local_endpoint`` and
``azure_rollout`` executors, ``local_deploy`` is promotion's local deployer. Which
version an environment serves comes from :mod:`mlops.registry.model_source`.
"""
