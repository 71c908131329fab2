"""What the endpoint entry scripts (``score.py``, ``batch_score.py``) run, behind their shells.

- ``payload``: request bodies to validated columns (``RequestError`` carries the 4xx status);
- ``loading``: the MLflow model folder to a ``ScoringModel`` with its signature columns;
- ``one_row``: the derived features of a single request row in plain Python floats;
- ``tree_runtime``: fitted sklearn forests as ONNX Runtime sessions (online scoring);
- ``batch_files``: input files of a batch deployment to features, predictions to CSV rows.
"""
