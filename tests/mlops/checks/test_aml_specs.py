"""Telling Azure ML specs apart, with and without ``$schema``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.checks.aml_specs import kind_of
from mlops.yamlload import load

BASE = "https://azuremlschemas.azureedge.net/latest"


@pytest.mark.parametrize(
    ("path", "text", "kind"),
    [
        ("x.yml", f"$schema: {BASE}/pipelineJob.schema.json\njobs: {{}}", "job"),
        ("x.yml", f"$schema: {BASE}/commandComponent.schema.json\ncommand: a", "component"),
        ("x.yml", f"$schema: {BASE}/managedOnlineDeployment.schema.json", "online_deployment"),
        (
            "x.yml",
            f"$schema: {BASE}/batchDeployment.schema.json\ntype: model",
            "model_batch_deployment",
        ),
        ("x.yml", f"$schema: {BASE}/modelBatchDeployment.schema.json", "model_batch_deployment"),
        ("deploy/batch/d.yml", "endpoint_name: e\ntype: model", "model_batch_deployment"),
        ("deploy/online/d.yml", "endpoint_name: e", "online_deployment"),
        ("deploy/batch/e.yml", "auth_mode: aad_token", "batch_endpoint"),
        ("deploy/online/e.yml", "auth_mode: key", "online_endpoint"),
        ("train/p.yml", "type: pipeline\njobs: {}", "job"),
        ("train/components/c.yml", "type: command\ncommand: a", "component"),
        ("train/j.yml", "type: command\ncommand: a", "job"),
        ("train/env.yml", "image: mcr.microsoft.com/x:1", "environment"),
        ("train/data.yml", "type: uri_folder\npath: ./d", "data"),
        ("train/model.yml", "type: mlflow_model\npath: ./m", "model"),
        ("train/what.yml", "owner: someone", None),
    ],
)
def test_kind_of(path: str, text: str, kind: str | None) -> None:
    assert kind_of(Path(path), load(text)) == kind
