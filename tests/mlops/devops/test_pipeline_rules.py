"""The Azure DevOps rules of issue 7, asserted over EVERY pipeline and template file.

Each rule is a small function returning problems for one parsed file, so the
negative tests can show a rule catches a bad document; the positive tests apply
every rule to every file found by glob.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from mlops.azure import tooling
from mlops.settings import REPO_ROOT

PIPELINE_DIR = REPO_ROOT / "mlops" / "devops-pipelines"
TEMPLATE_DIR = PIPELINE_DIR / "templates"
INFRA_DIR = REPO_ROOT / "infrastructure" / "pipelines"

ENTRY_PIPELINES = {
    "dev-model-training.yml",
    "stage-register-in-staging.yml",
    "stage-online-endpoint.yml",
    "stage-batch-endpoint.yml",
    "stage-model-testing.yml",
    "prod-register-in-production.yml",
    "prod-online-endpoint.yml",
    "prod-batch-endpoint.yml",
    "pr-validation.yml",
}
INFRA_PIPELINES = {"bicep-ado-deploy-infra.yml", "tf-ado-deploy-infra.yml"}
REQUIRED_TEMPLATES = {
    "install-az-cli.yml",
    "install-aml-cli.yml",
    "connect-to-workspace.yml",
    "create-compute.yml",
    "register-environment.yml",
    "register-data.yml",
    "run-pipeline.yml",
    "create-endpoint.yml",
    "create-deployment.yml",
    "allocate-traffic.yml",
    "test-deployment.yml",
    "python-venv.yml",
    "share-model.yml",
    "release-check.yml",
}
PARAMETER_EXPRESSION = re.compile(r"^\$\{\{\s*parameters\.\w+\s*\}\}$")
MLOPS_CALL = re.compile(r"python -m mlops ((?:[a-z][a-z0-9-]*)(?: [a-z][a-z0-9-]*)?)([^\n]*)")


def _all_files() -> list[Path]:
    files = sorted(PIPELINE_DIR.rglob("*.yml")) + sorted(INFRA_DIR.rglob("*.yml"))
    assert files, "no Azure DevOps YAML found"
    return files


def _entry_files() -> list[Path]:
    return [PIPELINE_DIR / n for n in sorted(ENTRY_PIPELINES)] + [
        INFRA_DIR / n for n in sorted(INFRA_PIPELINES)
    ]


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(REPO_ROOT).as_posix() for p in paths]


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item)


def scripts(doc: Any) -> list[str]:
    """Inline bash of bash:/script: steps and of AzureCLI@2 tasks."""
    found = []
    for node in _dicts(doc):
        for key in ("bash", "script"):
            if isinstance(node.get(key), str):
                found.append(node[key])
        inputs = node.get("inputs")
        is_cli = str(node.get("task", "")).startswith("AzureCLI@")
        if is_cli and isinstance(inputs, dict) and isinstance(inputs.get("inlineScript"), str):
            found.append(inputs["inlineScript"])
    return found


# ----- rules: each returns a list of problems (empty = fine) -----


def pool_problems(doc: Any) -> list[str]:
    problems = []
    for node in _dicts(doc):
        if "vmImage" in node:
            problems.append(f"hosted image vmImage: {node['vmImage']}")
        if "pool" in node:
            pool = node["pool"]
            name = pool.get("name") if isinstance(pool, dict) else pool
            if not isinstance(name, str) or not PARAMETER_EXPRESSION.match(name.strip()):
                problems.append(f"pool {pool!r} is not 'name: ${{{{ parameters.<x> }}}}'")
    return problems


def continue_on_error_problems(doc: Any) -> list[str]:
    return [
        f"continueOnError: {n['continueOnError']}" for n in _dicts(doc) if "continueOnError" in n
    ]


def script_problems(doc: Any, max_lines: int = 15) -> list[str]:
    problems = []
    for text in scripts(doc):
        lines = [ln.strip() for ln in text.strip().splitlines()]
        code = [ln for ln in lines if ln and not ln.startswith("#")]
        if not code or code[0] != "set -euo pipefail":
            problems.append(f"script does not start with 'set -euo pipefail': {code[:1]}")
        if len(code) > max_lines:
            problems.append(f"inline script of {len(code)} lines; move logic into python -m mlops")
    return problems


def create_problems(doc: Any) -> list[str]:
    """Every `az ml <noun> create` needs a `show` before it and an `update` branch.

    ``az ml job create`` is exempt: it submits a run, which is new every time by design.
    """
    problems = []
    for text in scripts(doc):
        flat = text.replace("\\\n", " ")
        for match in re.finditer(r'az ml ("?[\w$-]+"?) create\b', flat):
            if match.group(1) == "job":
                continue
            noun = re.escape(match.group(1))
            before = flat[: match.start()]
            if not re.search(rf"az ml {noun} show\b", before):
                problems.append(f"az ml {match.group(1)} create without a show first")
            if not re.search(rf"az ml {noun} update\b", flat):
                problems.append(f"az ml {match.group(1)} create without an update branch")
        for noun in ("environment", "data", "model"):
            if re.search(rf"az ml {noun} create\b", flat):
                problems.append(f"az ml {noun} create: use python -m mlops azure ensure-asset")
    return problems


SECRET_PATTERNS = (
    re.compile(r"(?i)(client_?secret|password|passwd|account_?key|sas_?token)\s*[:=]\s*\S"),
    re.compile(r"(?i)AccountKey=|SharedAccessSignature=|sig=[A-Za-z0-9%]{20,}"),
    re.compile(r"(?i)ARM_CLIENT_SECRET|servicePrincipalKey"),
    re.compile(r"\b[A-Za-z0-9+/]{40,}={0,2}"),  # long base64 blobs: keys, tokens
)


def secret_problems(text: str) -> list[str]:
    # A lowercase path (infrastructure/pipelines/templates/...) is long but no key.
    return [
        f"looks like a secret: {m.group(0)[:30]}"
        for p in SECRET_PATTERNS
        for m in p.finditer(text)
        if not ("/" in m.group(0) and m.group(0).islower())
    ]


def deployment_job_problems(doc: Any, environment: str) -> list[str]:
    """Every job of a stage/prod pipeline is a deployment job bound to ``environment``."""
    problems = []
    jobs = [j for n in _dicts(doc) for j in (n.get("jobs") or []) if isinstance(j, dict)]
    if not jobs:
        problems.append("no jobs found")
    for job in jobs:
        if "deployment" not in job:
            problems.append(f"job {job.get('job')!r} is not a deployment job")
        elif job.get("environment") != environment:
            problems.append(f"deployment {job['deployment']} bound to {job.get('environment')!r}")
    return problems


def _mlops_app() -> Any:
    """The click group behind the typer app (typer vendors click: duck-typed here)."""
    from mlops.cli import app

    command = typer.main.get_command(app)
    assert hasattr(command, "commands")
    return command


def command_problems(text: str, group: Any) -> list[str]:
    """Every `python -m mlops <cmd> [--opt ...]` names a real command and real options."""
    problems = []
    for match in MLOPS_CALL.finditer(text.replace("\\\n", " ")):
        words = match.group(1).split()
        command = group.commands.get(words[0])
        rest = match.group(2)
        if hasattr(command, "commands"):
            sub = words[1] if len(words) > 1 else ""
            command = command.commands.get(sub)
        elif len(words) > 1:
            rest = f" {words[1]}{rest}"
        if command is None:
            problems.append(f"python -m mlops {match.group(1)}: no such command")
            continue
        known = {
            opt
            for param in command.params
            for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
        }
        for token in shlex.split(rest.replace('"', " ").replace("'", " "), posix=False):
            if token.startswith("--") and token.split("=")[0] not in known:
                problems.append(f"python -m mlops {' '.join(words)}: unknown option {token}")
    return problems


# ----- negative tests: each rule catches a bad document -----


def test_rules_catch_bad_documents() -> None:
    bad_pool = {"pool": {"vmImage": "ubuntu-latest"}, "jobs": [{"job": "a", "pool": "Default"}]}
    assert len(pool_problems(bad_pool)) == 3
    assert continue_on_error_problems({"steps": [{"bash": "x", "continueOnError": "true"}]})
    assert script_problems({"steps": [{"bash": "echo hi\nset -euo pipefail\n"}]})
    assert script_problems({"steps": [{"bash": "set -euo pipefail\n" + "echo\n" * 20}]})
    create_only = {
        "steps": [
            {
                "task": "AzureCLI@2",
                "inputs": {"inlineScript": "set -euo pipefail\naz ml compute create --name x\n"},
            }
        ]
    }
    assert len(create_problems(create_only)) == 2
    assert create_problems({"steps": [{"bash": "az ml data create --file d.yml"}]})
    assert not create_problems({"steps": [{"bash": "az ml job create --file p.yml"}]})
    assert secret_problems("client_secret: abc123")
    assert secret_problems("key: " + "A" * 44 + "==")
    assert not secret_problems("template: /infrastructure/pipelines/templates/terraform-stages.yml")
    job_not_deployment = {"jobs": [{"job": "x"}, {"deployment": "y", "environment": "dev"}]}
    assert len(deployment_job_problems(job_not_deployment, "stage")) == 2
    group = _mlops_app()
    assert command_problems("python -m mlops no-such-command --x 1", group)
    assert command_problems("python -m mlops azure wait-job --name a --no-such-flag 3", group)
    assert command_problems("python -m mlops azure not-there", group)


# ----- positive tests over every file -----


def test_every_issue_file_exists() -> None:
    present = {p.name for p in PIPELINE_DIR.glob("*.yml")}
    assert present >= ENTRY_PIPELINES, ENTRY_PIPELINES - present
    assert {p.name for p in INFRA_DIR.glob("*.yml")} >= INFRA_PIPELINES
    templates = {p.name for p in TEMPLATE_DIR.glob("*.yml")}
    assert templates >= REQUIRED_TEMPLATES, REQUIRED_TEMPLATES - templates


@pytest.mark.parametrize("path", _all_files(), ids=_ids(_all_files()))
def test_file_follows_the_rules(path: Path) -> None:
    doc = _load(path)
    text = path.read_text(encoding="utf-8")
    problems = (
        pool_problems(doc)
        + continue_on_error_problems(doc)
        + script_problems(doc)
        + create_problems(doc)
        + secret_problems(text)
        + command_problems(text, _mlops_app())
    )
    assert problems == [], f"{path.relative_to(REPO_ROOT)}: {problems}"


@pytest.mark.parametrize("path", _entry_files(), ids=_ids(_entry_files()))
def test_entry_pipeline_pool_and_connections(path: Path) -> None:
    doc = _load(path)
    assert PARAMETER_EXPRESSION.match(doc["pool"]["name"]), "pool must be a parameter"
    agent_pool = [p for p in doc["parameters"] if p["name"] == "agentPool"]
    assert agent_pool and agent_pool[0]["type"] == "string"
    # Per-environment connection from config-infra-<env>.yml, known at compile time; pull
    # requests run unreviewed code, so they get the read-only one (issue 12 #6).
    key = (
        "readonly_service_connection" if path.name == "pr-validation.yml" else "service_connection"
    )
    for node in _dicts(doc):
        params = node.get("parameters")
        if "template" in node and isinstance(params, dict) and "serviceConnection" in params:
            assert params["serviceConnection"] == f"${{{{ variables.{key} }}}}"


@pytest.mark.parametrize(
    "path", sorted(TEMPLATE_DIR.glob("*.yml")), ids=_ids(sorted(TEMPLATE_DIR.glob("*.yml")))
)
def test_template_has_description_and_typed_parameters(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and len(first) > 20, "first line: a one-line description"
    doc = _load(path)
    assert set(doc) - {"parameters"} == {"steps"}, "templates here are step templates"
    for param in doc.get("parameters", []):
        assert param.get("type"), f"parameter {param.get('name')} has no type"
    for node in _dicts(doc):
        inputs = node.get("inputs")
        if isinstance(inputs, dict) and "azureSubscription" in inputs:
            assert inputs["azureSubscription"] == "${{ parameters.serviceConnection }}"


@pytest.mark.parametrize(
    "name,env",
    [(n, n.split("-")[0]) for n in sorted(ENTRY_PIPELINES) if n.startswith(("stage-", "prod-"))],
)
def test_stage_and_prod_are_deployment_jobs(name: str, env: str) -> None:
    doc = _load(PIPELINE_DIR / name)
    # The approval is on <env> (register pipelines, once per release); endpoints have their own
    # environment carrying an exclusive lock (issue 12: one approval, no interleaved rollouts).
    bound = {"batch": f"{env}-batch", "online": f"{env}-online", "model": f"{env}-online"}
    assert deployment_job_problems(doc, bound.get(name.split("-")[1], env)) == []
    assert doc["variables"][0] == {"template": f"/config-infra-{env}.yml"}
    assert doc.get("pr") == "none"


@pytest.mark.parametrize("name", sorted(INFRA_PIPELINES))
def test_infra_applies_in_deployment_jobs_per_environment(name: str) -> None:
    """Compiled (stage templates inlined): plans are plain jobs, each apply a deployment job
    bound to the environment its stage names; the shared registry applies under prod."""
    from mlops.ado.expand import compile_pipeline, plain

    doc = plain(compile_pipeline(INFRA_DIR / name, {"userObjectId": "x"}).doc)
    bound: dict[str, set[str]] = {}
    for stage in doc["stages"]:
        kind, _, target = stage["stage"].partition("_")
        env = "prod" if target.split("_")[0] == "registry" else target.split("_")[0]
        if kind == "plan":
            assert all("environment" not in j for j in stage["jobs"]), stage["stage"]
            continue
        assert kind in ("deploy", "apply"), stage["stage"]
        assert all("deployment" in j for j in stage["jobs"]), stage["stage"]
        bound.setdefault(env, set()).update(j["environment"] for j in stage["jobs"])
    assert bound == {"dev": {"dev"}, "stage": {"stage"}, "prod": {"prod"}}


def _trigger_root(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Follow pipeline-resource triggers back to the pipeline a file change starts."""
    doc = _load(PIPELINE_DIR / name)
    if doc.get("trigger") != "none":
        return doc["trigger"]
    sources = [p["source"] for p in doc["resources"]["pipelines"] if "trigger" in p]
    assert len(sources) == 1 and sources[0] not in seen, f"{name}: trigger chain {sources}"
    return _trigger_root(f"{sources[0]}.yml", (*seen, name))


@pytest.mark.parametrize(
    "name", sorted(n for n in ENTRY_PIPELINES if n.startswith(("stage-", "prod-")))
)
def test_stage_and_prod_start_from_their_release_file(name: str) -> None:
    env = name.split("-", maxsplit=1)[0]
    trigger = _trigger_root(name)
    assert trigger["branches"]["include"] == ["main"]
    assert trigger["paths"]["include"] == [f"mlops/releases/{env}.yml"]


def test_pull_requests_run_tests_and_the_release_check() -> None:
    doc = _load(PIPELINE_DIR / "pr-validation.yml")
    assert doc["trigger"] == "none" and doc["pr"]["branches"]["include"] == ["main"]
    text = (PIPELINE_DIR / "pr-validation.yml").read_text(encoding="utf-8")
    assert "make test" in text
    checks = [
        n["parameters"]["environment"]
        for n in _dicts(doc)
        if n.get("template") == "templates/release-check.yml"
    ]
    assert sorted(checks) == ["prod", "stage"]


def test_training_picks_the_pipeline_by_trainer_and_outlives_its_wait() -> None:
    doc = _load(PIPELINE_DIR / "dev-model-training.yml")
    trainer = next(p for p in doc["parameters"] if p["name"] == "trainer")
    assert trainer["values"] == ["automl", "random_forest"]
    text = (PIPELINE_DIR / "dev-model-training.yml").read_text(encoding="utf-8")
    assert "mlops/azureml/train/pipeline-automl.yml" in text
    assert "mlops/azureml/train/pipeline.yml" in text
    assert (REPO_ROOT / "mlops/azureml/train/pipeline-automl.yml").is_file()
    assert doc["variables"][0] == {"template": "/config-infra-dev.yml"}
    wait = next(p for p in doc["parameters"] if p["name"] == "timeoutMinutes")
    train_job = doc["stages"][0]["jobs"][0]
    assert train_job["timeoutInMinutes"] > wait["default"]
    decision = doc["stages"][0]["jobs"][1]
    assert decision["variables"]["promote"] == "$[ dependencies.train.outputs['gate.promote'] ]"
    # ... which the run-pipeline template's step named 'gate' sets as output variables.
    steps = _load(TEMPLATE_DIR / "run-pipeline.yml")["steps"]
    gate = next(s for s in steps if s.get("name") == "gate")
    assert "python -m mlops azure gate-decision" in gate["bash"]
    publish = [s for s in steps if s.get("task") == "PublishPipelineArtifact@1"]
    assert publish and steps.index(publish[0]) < steps.index(gate)


def test_cli_versions_are_pinned_and_match_the_checker() -> None:
    defaults = {}
    for name in ("install-az-cli.yml", "install-aml-cli.yml", "prepare-agent.yml"):
        for param in _load(TEMPLATE_DIR / name)["parameters"]:
            defaults[(name, param["name"])] = param.get("default")
    assert defaults[("install-az-cli.yml", "minVersion")] == tooling.MIN_AZ_CLI
    assert defaults[("prepare-agent.yml", "minAzCliVersion")] == tooling.MIN_AZ_CLI
    assert defaults[("install-aml-cli.yml", "mlExtensionVersion")] == tooling.ML_EXTENSION
    assert defaults[("prepare-agent.yml", "mlExtensionVersion")] == tooling.ML_EXTENSION
    aml = (TEMPLATE_DIR / "install-aml-cli.yml").read_text(encoding="utf-8")
    assert 'az extension add --name ml --version "$ML_VERSION"' in aml
    assert "AZURE_EXTENSION_DIR" in aml  # per-job extension folder, not the agent's ~/.azure


def test_every_job_prepares_its_own_agent() -> None:
    """Each entry pipeline installs tools per job; nothing goes into the agent's own Python."""
    for path in _entry_files():
        text = path.read_text(encoding="utf-8")
        if path.name == "pr-validation.yml":
            assert "make test" in text and "templates/python-venv.yml" in text
            continue
        if path.parent == INFRA_DIR:  # its stages come from stage templates
            text += "".join(p.read_text(encoding="utf-8") for p in INFRA_DIR.rglob("*.yml"))
        assert "prepare-agent.yml" in text, path.name
    venv_pip = re.compile(r'"\$\w+/bin/python" -m pip install')
    for path in _all_files():
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if "pip install" in line:
                assert venv_pip.search(line), f"{path.name}: pip outside a venv: {line.strip()}"
        assert "sudo " not in text, f"{path.name}: sudo on the agent"


def test_derived_names_are_not_spelled_out_in_pipelines() -> None:
    """Names come from variables/names.yml only: no literal resource names in pipeline YAML."""
    literal = re.compile(r"\b(rg|mlw|ep|bep|mlr|st|kv|cr)-?taxifare")
    for path in _all_files():
        if path.parent.name == "variables":
            continue
        assert not literal.search(path.read_text(encoding="utf-8")), path.name


def test_mlops_validate_finds_nothing_in_these_files() -> None:
    from mlops.checks.ado import check

    mine = ("mlops/devops-pipelines/", "infrastructure/pipelines/", "config-infra-")
    findings = [str(f) for f in check(REPO_ROOT) if f.path.startswith(mine)]
    assert findings == []


REPO_PATH = re.compile(r"^(mlops|data|data-science|infrastructure)/[\w./-]+$")


def repo_paths(doc: Any) -> set[str]:
    """Repository paths given as template parameter values or parameter defaults."""
    found = set()
    for node in _dicts(doc):
        values: list[Any] = []
        if "template" in node and isinstance(node.get("parameters"), dict):
            values += list(node["parameters"].values())
        if "name" in node and "type" in node and "default" in node:
            values.append(node["default"])
        found.update(v for v in values if isinstance(v, str) and REPO_PATH.match(v))
    return found


def test_every_referenced_repository_path_exists() -> None:
    """Specs, release files, samples and IaC files the YAML points at are really there."""
    referenced = set()
    for path in _all_files():
        referenced |= repo_paths(_load(path))
    assert {
        "mlops/azureml/train/pipeline.yml",
        "mlops/releases/stage.yml",
        "mlops/azureml/deploy/online/online-deployment.yml",
        "infrastructure/bicep/main.bicep",
    } <= referenced
    missing = sorted(p for p in referenced if not (REPO_ROOT / p).exists())
    assert missing == []
    assert repo_paths({"parameters": [{"name": "x", "type": "string", "default": "data/x.csv"}]})


@pytest.mark.parametrize("spec", ["pipeline.yml", "pipeline-automl.yml"])
def test_downloaded_step_outputs_exist_in_the_azure_ml_pipelines(spec: str) -> None:
    """run-pipeline.yml downloads STEP:OUTPUT pairs: each step and output is in the spec."""
    params = {p["name"]: p for p in _load(TEMPLATE_DIR / "run-pipeline.yml")["parameters"]}
    train_dir = REPO_ROOT / "mlops" / "azureml" / "train"
    jobs = _load(train_dir / spec)["jobs"]
    for pair in params["stepOutputs"]["default"]:
        step, output = pair.split(":")
        assert step in jobs, f"{spec} has no step {step}"
        component = _load(train_dir / jobs[step]["component"])
        assert output in component["outputs"], f"{step} has no output {output}"
    folders = {pair.split(":")[0] for pair in params["stepOutputs"]["default"]}
    for key in ("decisionFile", "modelInfoFile"):
        assert params[key]["default"].split("/")[0] in folders


DEPLOYING_TEMPLATES = {
    "templates/create-endpoint.yml",
    "templates/create-deployment.yml",
    "templates/allocate-traffic.yml",
    "templates/run-stage-tests.yml",
}


@pytest.mark.parametrize(
    "name", sorted(n for n in ENTRY_PIPELINES if n.startswith(("stage-", "prod-")))
)
def test_release_is_checked_before_anything_is_deployed(name: str) -> None:
    """prod refuses a version without a stage pass before touching an endpoint (stage alike)."""
    env = name.split("-", maxsplit=1)[0]
    doc = _load(PIPELINE_DIR / name)
    for job in (j for n in _dicts(doc) for j in (n.get("jobs") or [])):
        steps = job["strategy"]["runOnce"]["deploy"]["steps"]
        used = [s.get("template") for s in steps]
        assert "templates/release-check.yml" in used, f"{name}: no release check"
        check = used.index("templates/release-check.yml")
        assert steps[check]["parameters"]["environment"] == env
        deploying = [i for i, t in enumerate(used) if t in DEPLOYING_TEMPLATES]
        assert all(i > check for i in deploying), f"{name}: deploys before the release check"
