"""mlops ado run: order, conditions, output variables, runtime expressions, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.ado.errors import AdoError
from mlops.ado.runner import RunOptions, run_pipeline
from mlops.errors import MlopsError

PIPELINE = """
parameters:
  - name: fail
    type: boolean
    default: false
variables:
  greeting: hello
  derived: $(greeting)-world
stages:
  - stage: build
    jobs:
      - job: second
        dependsOn: first
        variables:
          colour: $[ dependencies.first.outputs['set.colour'] ]
        steps:
          - bash: echo "colour=$(colour) $COLOUR" > "$(Build.ArtifactStagingDirectory)/c.txt"
          - publish: $(Build.ArtifactStagingDirectory)
            artifact: colours
      - job: first
        steps:
          - checkout: self
          - bash: |
              echo "##vso[task.setvariable variable=colour;isOutput=true]blue"
              echo "##vso[task.setvariable variable=local]here"
              echo "##vso[task.logissue type=warning]careful"
            name: set
          - bash: test "$(local)" = here && test "$LOCAL" = here && test "$(set.colour)" = blue
          - bash: test "$DERIVED" = hello-world && test "$MINE" = "$(Agent.TempDirectory)"
            env:
              MINE: $(Agent.TempDirectory)
          - ${{ if parameters.fail }}:
            - bash: |
                echo "line before the failure"
                exit 3
              displayName: Fail on purpose
          - bash: echo never
            displayName: After the failure
          - bash: echo cleanup
            displayName: Always
            condition: always()
  - stage: deploy
    jobs:
      - deployment: roll
        environment: stage
        variables:
          colour: $[ stageDependencies.build.first.outputs['set.colour'] ]
        strategy:
          runOnce:
            deploy:
              steps:
                - download: current
                  artifact: colours
                - bash: |
                    grep -q "colour=blue blue" "$(Pipeline.Workspace)/colours/c.txt"
                    echo "##vso[task.setvariable variable=done;isOutput=true]$(colour)"
                  name: check
      - job: after
        dependsOn: roll
        condition: eq(dependencies.roll.outputs['roll.check.done'], 'blue')
        steps:
          - bash: echo ok
  - stage: on_failure
    dependsOn: build
    condition: failed()
    jobs:
      - job: report
        steps:
          - bash: echo reporting
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "p.yml").write_text(PIPELINE.lstrip(), encoding="utf-8")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    return root


def _results(record) -> dict[str, str]:
    out = {}
    for stage in record.stages:
        out[stage.name] = stage.result
        for job in stage.jobs:
            out[f"{stage.name}.{job.name}"] = job.result
    return out


def test_jobs_run_in_dependency_order_with_outputs_across_jobs_and_stages(repo: Path) -> None:
    record = run_pipeline(repo / "p.yml", RunOptions(), root=repo)
    results = _results(record)
    assert record.result == "Succeeded", json.dumps(record.to_dict(), indent=1)[:3000]
    build = record.stages[0]
    assert [j.name for j in build.jobs] == ["first", "second"]  # second dependsOn first
    assert results["deploy.roll"] == "Succeeded"
    assert results["deploy.after"] == "Succeeded"
    assert results["on_failure"] == "Skipped"
    first = build.jobs[0]
    assert first.outputs == {"set.colour": "blue"}
    assert first.steps[1].issues == [{"type": "warning", "message": "careful"}]
    assert record.stages[1].jobs[0].outputs == {"roll.check.done": "blue"}
    assert record.stages[1].jobs[0].environment == "stage"
    envs = json.loads((Path(record.run_dir).parents[2] / "ado" / "environments.json").read_text())
    assert envs["stage"][0]["job"] == "roll" and envs["stage"][0]["result"] == "Succeeded"
    assert record.artifacts == ["colours"]


def test_a_failing_step_stops_its_job_and_fails_the_run(repo: Path) -> None:
    record = run_pipeline(repo / "p.yml", RunOptions(params={"fail": "true"}), root=repo)
    results = _results(record)
    assert record.result == "Failed"
    first = record.stages[0].jobs[0]
    by_name = {s.display: s for s in first.steps}
    assert by_name["Fail on purpose"].result == "Failed"
    assert by_name["Fail on purpose"].reason == "bash exited with code 3"
    assert by_name["After the failure"].result == "Skipped"
    assert by_name["Always"].result == "Succeeded"  # always() still runs
    assert results["build.second"] == "Skipped"
    assert results["deploy"] == "Skipped"
    assert results["on_failure"] == "Succeeded"  # failed() of its dependency, build
    log = Path(by_name["Fail on purpose"].log).read_text()
    assert "line before the failure" in log


def test_cli_exit_code_summary_and_last_lines(repo: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "mlops", "ado", "run", str(repo / "p.yml"), "--param", "fail=true",
         "--summary-json", str(summary)],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "line before the failure" in done.stderr  # the failing step's last lines
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: job build.first: step 'Fail on purpose' failed")
    data = json.loads(summary.read_text())
    assert data["result"] == "Failed"
    assert data["parameters"] == {"fail": True}


def test_unemulated_tasks_and_terraform_are_refused_before_running(repo: Path) -> None:
    (repo / "t.yml").write_text(
        "steps:\n  - bash: touch ran\n  - task: Docker@2\n    inputs: {command: build}\n"
    )
    with pytest.raises(AdoError, match=r"^t\.yml:3: task Docker@2 is not emulated"):
        run_pipeline(repo / "t.yml", RunOptions(), root=repo)
    (repo / "tf.yml").write_text("steps:\n  - bash: |\n      terraform init\n")
    with pytest.raises(AdoError, match="runs terraform, which mlops ado run does not emulate"):
        run_pipeline(repo / "tf.yml", RunOptions(), root=repo)
    assert not (repo / "ran").exists()


def test_step_timeout_and_working_directory(repo: Path) -> None:
    (repo / "sub").mkdir()
    (repo / "w.yml").write_text(
        "steps:\n"
        '  - bash: test "$(pwd)" = "$(Build.SourcesDirectory)/sub"\n'
        "    workingDirectory: $(Build.SourcesDirectory)/sub\n"
        "  - bash: sleep 30\n"
        "    timeoutInMinutes: 0.02\n"
        "    displayName: slow\n"
    )
    record = run_pipeline(repo / "w.yml", RunOptions(), root=repo)
    steps = record.stages[0].jobs[0].steps
    assert steps[0].result == "Succeeded"
    assert steps[1].result == "Failed" and "timed out" in (steps[1].reason or "")


def test_pr_changed_needs_the_path_in_the_diff(repo: Path) -> None:
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    (repo / "pr.yml").write_text(
        "steps:\n  - bash: |\n"
        '      test "$SYSTEM_PULLREQUEST_TARGETBRANCH" = refs/heads/main\n'
        '      test "$(Build.Reason)" = PullRequest\n'
        '      target="origin/${SYSTEM_PULLREQUEST_TARGETBRANCH#refs/heads/}"\n'
        '      git diff --name-only "$target...HEAD" | grep -qx release.yml\n'
    )
    (repo / "release.yml").write_text("version: 1\n")
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    subprocess.run(["git", "update-ref", "refs/remotes/origin/main", "HEAD"], cwd=repo, check=True)
    subprocess.run(["git", "checkout", "-qb", "pr"], cwd=repo, check=True)
    (repo / "release.yml").write_text("version: 2\n")
    subprocess.run([*git, "commit", "-qam", "bump"], cwd=repo, check=True)
    record = run_pipeline(repo / "pr.yml", RunOptions(pr_changed=["release.yml"]), root=repo)
    assert record.result == "Succeeded"
    assert record.pull_request is not None and record.pull_request["changed"] == ["release.yml"]
    with pytest.raises(MlopsError, match=r"--pr-changed p.yml: HEAD does not change it"):
        run_pipeline(repo / "pr.yml", RunOptions(pr_changed=["p.yml"]), root=repo)


def test_the_access_token_reaches_a_step_only_through_its_env(repo: Path) -> None:
    (repo / "tok.yml").write_text(
        "steps:\n"
        '  - bash: test -z "${SYSTEM_ACCESSTOKEN:-}"\n'
        '  - bash: test -n "$SYSTEM_ACCESSTOKEN" && echo "token $SYSTEM_ACCESSTOKEN"\n'
        "    env:\n"
        "      SYSTEM_ACCESSTOKEN: $(System.AccessToken)\n"
    )
    record = run_pipeline(repo / "tok.yml", RunOptions(), root=repo)
    steps = record.stages[0].jobs[0].steps
    assert [s.result for s in steps] == ["Succeeded", "Succeeded"]
    assert Path(steps[1].log or "").read_text().strip() == "token ***"  # masked in the log


def test_emulated_tasks_publish_download_and_python_check(repo: Path) -> None:
    (repo / "tasks.yml").write_text(
        "jobs:\n"
        "  - job: make\n"
        "    steps:\n"
        "      - task: UsePythonVersion@0\n"
        "        inputs: {versionSpec: '3.x'}\n"
        '      - bash: echo 42 > "$(Build.ArtifactStagingDirectory)/answer.txt"\n'
        "      - task: PublishPipelineArtifact@1\n"
        "        inputs: {targetPath: $(Build.ArtifactStagingDirectory), artifact: answer}\n"
        "  - job: use\n"
        "    dependsOn: make\n"
        "    steps:\n"
        "      - task: DownloadPipelineArtifact@2\n"
        "        inputs: {artifact: answer, path: $(Pipeline.Workspace)/in}\n"
        "      - bash: test \"$(cat '$(Pipeline.Workspace)/in/answer.txt')\" = 42\n"
        "      - task: UsePythonVersion@0\n"
        "        inputs: {versionSpec: '2.7'}\n"
    )
    record = run_pipeline(repo / "tasks.yml", RunOptions(), root=repo)
    make, use = record.stages[0].jobs
    assert make.result == "Succeeded" and record.artifacts == ["answer"]
    assert [s.result for s in use.steps] == ["Succeeded", "Succeeded", "Failed"]
