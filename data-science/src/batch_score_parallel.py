"""Entry script of batch scoring as a parallel job INSIDE a pipeline (Azure ML ``run_function``).

A batch deployment hands ``batch_score.py`` its model through ``AZUREML_MODEL_DIR``; a
pipeline's parallel job has no deployment, so the model comes as a job input named in
``task.program_arguments`` (``--model_dir ${{inputs.model}}``). ``init()`` points
``AZUREML_MODEL_DIR`` at it and calls ``batch_score.init()``; ``run(mini_batch)`` is
``batch_score.run``: the same rows (``file,row,prediction``), the same failures naming
each bad file (https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.parallel.runfunction).
"""

from __future__ import annotations

import argparse
import os

import batch_score


def init() -> None:
    parser = argparse.ArgumentParser(description="batch scoring (parallel job)")
    parser.add_argument("--model_dir", required=True, help="the model input's mounted folder")
    args, _ = parser.parse_known_args()  # Azure ML adds its own arguments to argv
    if not os.path.isdir(args.model_dir):
        raise RuntimeError(f"--model_dir {args.model_dir}: not a folder")
    os.environ["AZUREML_MODEL_DIR"] = args.model_dir
    batch_score.init()


def run(mini_batch: list[str]) -> list[str]:
    return batch_score.run(mini_batch)
