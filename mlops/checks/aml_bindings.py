"""What azure-ai-ml does not catch offline: bindings, inputs, cycles, keys, paths, references.

The rules live in ``mlops.amlspec.rules`` and run over the one model of Azure ML YAML that
the local runner uses too; this module walks the repository's specs through them and turns
each problem into a finding. Deployments and asset specs are checked here with the same
path and reference helpers.
"""

from __future__ import annotations

from mlops.amlspec.catalogue import Catalogue
from mlops.amlspec.files import YDict
from mlops.amlspec.loader import Loader
from mlops.amlspec.problems import BINDING, CYCLE, INPUT, KEY, PATH, REFERENCE, Problem
from mlops.amlspec.rules import Checker, check_component, check_pipeline_job
from mlops.checks.aml_specs import AmlProject, AmlSpec
from mlops.checks.findings import Finding

__all__ = ["BINDING", "CYCLE", "INPUT", "KEY", "PATH", "REFERENCE", "check"]


def _finding(project: AmlProject, problem: Problem) -> Finding:
    return Finding(project.rel(problem.path), problem.line, problem.rule, problem.message)


def _command_job(loader: Loader, spec: AmlSpec) -> None:
    """A standalone command (or sweep) job: its code, environment, command and inputs."""
    component = loader.component(spec.path, spec.doc, inline=False)
    Checker(loader).command(component)
    loader.node_inputs(spec.path, spec.doc)  # their paths and data references


def _deployment(loader: Loader, spec: AmlSpec) -> None:
    doc = spec.doc
    code = doc.get("code_configuration")
    if isinstance(code, YDict):
        folder = loader.existing(spec.path, code, "code")
        if folder is not None and folder.is_dir():
            loader.existing(spec.path, code, "scoring_script", base=folder)
    model = doc.get("model")
    if isinstance(model, YDict):
        loader.existing(spec.path, model, "path")
    else:
        loader.reference(spec.path, doc, "model", "model")
    loader.environment(spec.path, doc)
    if isinstance(doc.get("component"), str):
        loader.existing(spec.path, doc, "component")


def check(project: AmlProject) -> list[Finding]:
    """Binding, input, cycle, key, path and reference findings of every spec."""
    catalogue = Catalogue.of(project.specs)
    findings: list[Finding] = []
    for spec in sorted(project.specs.values(), key=lambda s: s.rel):
        loader = Loader(catalogue, project.root)
        problems: list[Problem] = loader.problems
        if spec.kind == "component":
            problems = check_component(spec.path, catalogue, project.root)
        elif spec.kind == "job" and (spec.doc.get("type") == "pipeline" or "jobs" in spec.doc):
            problems = check_pipeline_job(spec.path, catalogue, project.root).problems
        elif spec.kind == "job":
            _command_job(loader, spec)
        elif spec.kind == "environment":
            loader.environment_spec(spec.path, spec.doc, spec.doc.line)
        elif spec.kind in ("data", "model"):
            loader.existing(spec.path, spec.doc, "path")
        elif spec.kind.endswith("deployment"):
            _deployment(loader, spec)
        findings += [_finding(project, p) for p in problems]
    return findings
