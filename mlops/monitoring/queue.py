"""Queue an Azure DevOps pipeline by name (the drift check queues dev-model-training).

Azure DevOps REST API 7.1, "Pipelines - List" and "Runs - Run Pipeline":
https://learn.microsoft.com/rest/api/azure/devops/pipelines/pipelines/list?view=azure-devops-rest-7.1
https://learn.microsoft.com/rest/api/azure/devops/pipelines/runs/run-pipeline?view=azure-devops-rest-7.1
The job's ``System.AccessToken`` authenticates as the project's build service, which needs
"Queue builds" on the target pipeline (README, "Monitoring").
"""

from __future__ import annotations

import logging
from typing import Any

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

API = "api-version=7.1"


def queue_pipeline(
    collection_uri: str,
    project: str,
    name: str,
    token: str,
    branch: str = "refs/heads/main",
    session: Any = None,
) -> int:
    """Queue pipeline ``name`` on ``branch``; returns the run id. MlopsError on any failure."""
    import requests

    if not (collection_uri and project and token):
        raise MlopsError(
            "queueing a pipeline needs SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECT and "
            "SYSTEM_ACCESSTOKEN (map $(System.AccessToken) into the step's env)"
        )
    http = session or requests.Session()
    base = f"{collection_uri.rstrip('/')}/{project}/_apis/pipelines"
    headers = {"Authorization": f"Bearer {token}"}
    listing = http.get(f"{base}?{API}", headers=headers, timeout=30)
    if listing.status_code != 200:
        raise MlopsError(f"listing pipelines of {project}: HTTP {listing.status_code}")
    found = [p for p in listing.json().get("value", []) if p.get("name") == name]
    if not found:
        raise MlopsError(f"no pipeline named {name!r} in {project}")
    body = {"resources": {"repositories": {"self": {"refName": branch}}}}
    run = http.post(f"{base}/{found[0]['id']}/runs?{API}", json=body, headers=headers, timeout=30)
    if run.status_code not in (200, 201):
        raise MlopsError(f"queueing {name!r}: HTTP {run.status_code} {run.text[:200]}")
    run_id = int(run.json()["id"])
    log.info("queued %s run %d on %s", name, run_id, branch)
    return run_id
