"""What a stage or prod deployment runs besides the model: the release file's pins.

A release pins the model version, the scoring environment version (registered once in
the Azure ML registry, shared by stage and prod) and the code commit whose
``data-science/src`` (score.py, batch_score.py, taxi_fare) the deployment uploads. The
code of a pinned commit is exported with ``git archive``, so a prod rollout from a newer
checkout still deploys the very files stage tested.
"""

from __future__ import annotations

import io
import logging
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from mlops.errors import MlopsError
from mlops.registry.releases import Release, check_pins_present

log = logging.getLogger(__name__)

CODE_DIR = "data-science/src"


@dataclass(frozen=True)
class DeployPins:
    """The references a deployment is built from."""

    model_uri: str
    environment_uri: str
    commit: str


def deploy_pins(release: Release) -> DeployPins:
    """The release's pins as Azure ML references; refuses an unpinned release."""
    model_uri = release.model.azureml_uri()  # no version at all is the first thing to say
    check_pins_present(release)
    assert release.environment is not None and release.code is not None
    return DeployPins(
        model_uri=model_uri,
        environment_uri=release.environment.azureml_uri(release.model.registry),
        commit=str(release.code.commit),
    )


def export_code(repo: Path, commit: str, dest: Path, subdir: str = CODE_DIR) -> Path:
    """Write ``subdir`` as of ``commit`` into ``dest`` and return the exported folder.

    ``dest`` must not exist yet (nothing is mixed with older files). The repository
    needs the commit's objects: check out with full history (``fetchDepth: 0``).
    """
    if dest.exists():
        raise MlopsError(f"{dest} already exists; export the code into a new folder")
    done = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", f"{commit}^{{commit}}", subdir],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip()
        raise MlopsError(
            f"cannot export {subdir} at commit {commit} from {repo}: {reason} "
            "(is the commit in this clone? deploy jobs check out with fetchDepth: 0)"
        )
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(dest, filter="data")
    exported = dest / subdir
    if not exported.is_dir():
        raise MlopsError(f"commit {commit} has no {subdir}")
    log.info("exported %s at %s into %s", subdir, commit[:12], exported)
    return exported
