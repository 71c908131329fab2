"""One submit, start to end: resolve, load, connect, ensure, submit, follow, read the verdict.

Order matters for "nothing half-created is left unnamed": everything that can be checked
offline (config, YAML, --set, --data) is checked before the first call to Azure; the job is
named before it is sent; every asset or cluster made on the way is printed by name.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from taxi_fare.step_files import DECISION_FILE, MODEL_INFO_FILE, read_decision, read_model_info

from mlops import settings
from mlops.azure import gate, outputs
from mlops.azure.submit import client as seam
from mlops.azure.submit.ensure import ensure_assets, ensure_computes, local_specs, spec_folders
from mlops.azure.submit.errors import azure_errors
from mlops.azure.submit.follow import SUCCEEDED, RichJobDisplay, follow
from mlops.azure.submit.spec import LoadedPipeline, job_name, load_pipeline, parse_sets
from mlops.azure.submit.spec import pipeline_path as resolve_pipeline
from mlops.azure.submit.target import Target, cli_default_subscription, resolve_target
from mlops.errors import MlopsError

log = logging.getLogger(__name__)

# Step outputs the training pipelines write, downloaded as run-pipeline.yml does.
EVALUATE = ("evaluate", "evaluation_output", DECISION_FILE)
REGISTER = ("register", "model_info_output", MODEL_INFO_FILE)


@dataclass(frozen=True)
class SubmitRequest:
    trainer: str | None = None
    pipeline: Path | None = None
    env: str = "dev"
    sets: tuple[str, ...] = ()
    data: str | None = None
    wait: bool = True
    summary_json: Path | None = None
    subscription: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    poll_s: float = 15.0
    download_dir: Path | None = None


@dataclass
class SubmitResult:
    summary: dict[str, Any]
    detached: bool = False
    lines: list[str] = field(default_factory=list)


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def reattach_command(name: str, target: Target) -> str:
    ref = target.ref
    return (
        f"az ml job stream --name {name} --subscription {ref.subscription_id} "
        f"--resource-group {ref.resource_group} --workspace-name {ref.workspace}"
    )


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Whole or not at all: written to a temporary file next to it, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(summary, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Submission:
    """The state of one submit; :meth:`run` does the work, printing as it goes."""

    def __init__(
        self,
        request: SubmitRequest,
        *,
        console: Console | None = None,
        make_credential: Callable[[], Any] | None = None,
        default_subscription: Callable[[], str | None] = cli_default_subscription,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.request = request
        self.console = console or Console()
        self.make_credential = make_credential
        self.default_subscription = default_subscription
        self.sleep = sleep
        self.summary: dict[str, Any] = {}

    def say(self, text: str) -> None:
        # soft_wrap: names, URLs and commands stay on one line, so they can be copied.
        self.console.print(text, soft_wrap=True, highlight=False, markup=False)

    def prepare(self) -> tuple[Target, LoadedPipeline, str]:
        """Everything that needs no Azure: the target, the loaded job, its name."""
        request = self.request
        trainer, path = resolve_pipeline(request.trainer, request.pipeline)
        target = resolve_target(
            request.env,
            subscription=request.subscription,
            resource_group=request.resource_group,
            workspace=request.workspace,
            default_subscription=self.default_subscription,
        )
        name = job_name(target.experiment)
        tags = {"submitted_with": "mlops azure submit", "env": request.env}
        commit = git_commit()
        if commit:
            tags["git_commit"] = commit
        loaded = load_pipeline(
            path,
            name=name,
            experiment=target.experiment,
            compute=target.compute.name,
            tags=tags,
            sets=parse_sets(request.sets),
            data=request.data,
        )
        return target, loaded, trainer

    def run(self) -> SubmitResult:
        request = self.request
        target, loaded, trainer = self.prepare()
        specs = local_specs(spec_folders(loaded))
        ref = target.ref
        self.summary = {
            "job": loaded.name,
            "status": "not submitted",
            "studio_url": None,
            "trainer": trainer,
            "env": request.env,
            "pipeline": str(loaded.path),
            "workspace": {
                "subscription_id": ref.subscription_id,
                "resource_group": ref.resource_group,
                "workspace": ref.workspace,
            },
            "experiment": target.experiment,
            "ensured": [],
            "outputs": None,
            "gate": None,
            "model": None,
            "reattach": reattach_command(loaded.name, target),
        }
        self.say(
            f"workspace {ref.workspace} (resource group {ref.resource_group}, "
            f"subscription {ref.subscription_id}) for env {request.env}"
        )
        # Looked up now, not at import: the seam's credential can be swapped like its factory.
        client = seam.connect(ref, self.make_credential or seam.default_credential)
        with azure_errors(f"workspace {ref.workspace}", ref):
            client.workspaces.get(ref.workspace)

        def done(item: Any) -> None:
            self.say(str(item))
            self.summary["ensured"].append(str(item))

        try:
            ensure_assets(client, loaded, target, specs, on_done=done)
            ensure_computes(client, loaded, target, on_done=done)
        except KeyboardInterrupt:
            raise MlopsError(
                "interrupted before submitting: no job was sent; an asset or cluster being "
                "created may still appear under its own name"
            ) from None

        submitted = self._submit(client, loaded, target)
        if submitted.name and submitted.name != loaded.name:
            # Azure keeps the name it was given; believe the service's answer all the same.
            log.warning("job %s was created as %s", loaded.name, submitted.name)
            loaded.name = str(submitted.name)
            self.summary.update(job=loaded.name, reattach=reattach_command(loaded.name, target))
        url = submitted.studio_url
        self.summary.update(status=str(submitted.status), studio_url=url)
        self.say(f"submitted job {loaded.name}: {url or 'see Azure ML studio'}")
        if not request.wait:
            self.say(f"not waiting; follow it with: {self.summary['reattach']}")
            self._write()
            return SubmitResult(self.summary)

        display = RichJobDisplay(loaded.name, loaded.steps, console=self.console)
        try:
            with azure_errors(f"job {loaded.name}", ref):
                final = follow(
                    client, loaded.name, display, poll_s=request.poll_s, sleep=self.sleep
                )
        except KeyboardInterrupt:
            display.close()
            self.summary.update(status="detached")
            self.say(f"detached; job {loaded.name} keeps running (not cancelled).")
            self.say(f"reattach: {self.summary['reattach']}")
            self._write()
            return SubmitResult(self.summary, detached=True)
        except MlopsError as exc:
            display.close()
            self.summary.update(status="unknown: lost track while following")
            self._write()
            raise MlopsError(f"{exc}; the job keeps running: {self.summary['reattach']}") from exc
        display.close()
        status = str(final.status)
        self.summary.update(status=status, studio_url=final.studio_url or url)
        if status != SUCCEEDED:
            self._write()
            raise MlopsError(
                f"job {loaded.name} ended {status}; see {final.studio_url or url}; logs: "
                f"az ml job download --name {loaded.name} --all --resource-group "
                f"{ref.resource_group} --workspace-name {ref.workspace}"
            )
        try:
            self._verdict(client, loaded, target)
        except MlopsError as exc:
            self.summary["error"] = str(exc)  # the job's own status stays Completed
            self._write()
            raise
        self._write()
        return SubmitResult(self.summary)

    def _submit(self, client: Any, loaded: LoadedPipeline, target: Target) -> Any:
        """``jobs.create_or_update``: validates, uploads code and local data, creates the job
        (azure-ai-ml 1.35.2 azure/ai/ml/operations/_job_operations.py:create_or_update)."""
        show = (
            f"az ml job show --name {loaded.name} --resource-group {target.ref.resource_group} "
            f"--workspace-name {target.ref.workspace}"
        )
        try:
            with azure_errors(f"submitting job {loaded.name}", target.ref):
                return client.jobs.create_or_update(loaded.job)
        except KeyboardInterrupt:
            raise MlopsError(
                f"interrupted while submitting job {loaded.name}: it may exist; check: {show}"
            ) from None

    def _verdict(self, client: Any, loaded: LoadedPipeline, target: Target) -> None:
        """Download the gate's and the register step's outputs and print what they decided."""
        wanted = [item for item in (EVALUATE, REGISTER) if item[0] in loaded.steps]
        if not wanted:
            self.say(f"{loaded.path.name} has no evaluate or register step: no gate to report")
            return
        dest = self.request.download_dir or settings.mlops_home() / "azure-jobs" / loaded.name
        step_outputs = [f"{step}:{output}" for step, output, _ in wanted]
        expect = [f"{step}/{filename}" for step, _, filename in wanted]
        with azure_errors(f"downloading outputs of job {loaded.name}", target.ref):
            outputs.download_outputs(client, loaded.name, (), dest, expect, step_outputs)
        self.summary["outputs"] = str(dest)
        self.say(f"outputs: {dest}")
        decision_file = dest / EVALUATE[0] / EVALUATE[2]
        info_file = dest / REGISTER[0] / REGISTER[2]
        decision = read_decision(decision_file) if "evaluate" in loaded.steps else None
        if decision is not None:
            reason = decision.reason.strip()
            self.summary["gate"] = {
                "promote": decision.promote,
                "reason": reason,
                "champion_version": decision.champion_version,
            }
            self.say(f"gate: {'promote' if decision.promote else 'no promotion'}: {reason}")
        if "register" in loaded.steps:
            info = read_model_info(info_file)
            if decision is not None:
                gate.consistent(decision, info, decision_file, info_file)
            self.summary["model"] = {
                "name": info.name,
                "version": info.version if info.registered else None,
                "registered": info.registered,
                "reason": info.reason,
            }
            if info.registered:
                self._confirm_model(client, info.name, str(info.version), target)
                self.say(
                    f"registered {info.name} version {info.version} in "
                    f"{self.request.env} (workspace {target.ref.workspace})"
                )
            else:
                self.say(f"not registered: {info.reason}")
        report = dest / "evaluate" / "report.md"
        if report.is_file():
            self.say(f"report: {report}")

    def _confirm_model(self, client: Any, name: str, version: str, target: Target) -> None:
        """The workspace registry must hold what model_info.json claims (fail closed)."""
        hint = f"model_info.json says {name}:{version} was registered, but the workspace lacks it"
        with azure_errors(f"model {name}:{version}", target.ref, not_found=hint):
            client.models.get(name=name, version=version)

    def _write(self) -> None:
        if self.request.summary_json is not None:
            write_summary(self.request.summary_json, self.summary)
            self.say(f"summary: {self.request.summary_json}")
