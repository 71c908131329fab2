"""Issue 12: docs/azure-devops.md is the path a new user follows, in order, and every command
in it is one the pipelines (or, for local checks, the tests) also run.

A command in a ```bash block matches when a pipeline script (entry pipelines, templates,
infrastructure pipelines) holds its command words and every ``--option`` it uses; for a
command the pipelines do not run, a test file must hold each word and option as a string
literal (how tests call ``main([...])`` or ``subprocess.run([...])``). Values (names, ids,
paths) may differ. The section another helper appends ("Rehearse a release on your
laptop") is that helper's to check.
"""

from __future__ import annotations

import functools
import re
import shlex

import pytest
import yaml

from mlops.settings import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "azure-devops.md"
OWN_PART_ENDS = "## Rehearse a release on your laptop"
ORDER = (
    "Prerequisites",
    "agent and the private network",
    "Service connections",
    "Environments and approvals",
    "Infrastructure",
    "Pipelines",
    "first training run",
    "first release",
    "rollback",
)


def _own_text() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    return text.split(OWN_PART_ENDS, 1)[0]


def _commands(text: str) -> list[str]:
    """Command lines of the ```bash blocks, continuation lines joined, comments dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ", 1)[0].strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


@functools.cache
def _pipeline_scripts() -> list[str]:
    files = sorted((REPO_ROOT / "mlops" / "devops-pipelines").rglob("*.yml"))
    files += sorted((REPO_ROOT / "infrastructure" / "pipelines").rglob("*.yml"))
    scripts = []
    for path in files:
        for text in _strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if "\n" in text or text.startswith(("python ", "az ", "make ")):
                scripts.append(re.sub(r"\s+", " ", text.replace("\\\n", " ")))
    return scripts


def _pipeline_variables(scripts: list[str]) -> set[str]:
    return {m for s in scripts for m in re.findall(r"task\.setvariable variable=(\w+)", s)}


def _signature(line: str) -> tuple[list[str], list[str]]:
    """Command words (up to the first option or value) and the options used."""
    words = shlex.split(line)
    command: list[str] = []
    for word in words:
        if word.startswith("-") and not (command[-1:] == ["python"] and word == "-m"):
            break
        if command and (re.search(r"[<$/=.]", word) or word[:1].isdigit()):
            break
        command.append(word)
    options = [w.split("=")[0] for w in words if w.startswith("--")]
    return command, options


def _run_by_a_pipeline(line: str, scripts: list[str]) -> bool:
    command, options = _signature(line)
    prefix = " ".join(command)
    return any(prefix in s and all(o in s for o in options) for s in scripts)


def _run_by_a_test(line: str, tests: list[str]) -> bool:
    command, options = _signature(line)
    if command[:3] == ["python", "-m", "mlops"]:
        command = command[3:]
    tokens = [*command, *options]
    return any(all(f'"{t}"' in text for t in tokens) for text in tests)


def test_the_guide_follows_the_users_path_in_order() -> None:
    headings = re.findall(r"^## \d+\. (.+)$", _own_text(), flags=re.M)
    positions = []
    for topic in ORDER:
        matches = [i for i, h in enumerate(headings) if topic.lower() in h.lower()]
        assert matches, f"no section about {topic!r} in {headings}"
        positions.append(matches[0])
    assert positions == sorted(positions), headings


def test_connections_come_before_infrastructure_and_name_every_agreed_connection() -> None:
    text = _own_text()
    assert text.index("## 3. Service connections") < text.index("## 5. Infrastructure")
    for name in ("sc-taxifare-infra-dev", "sc-taxifare-readonly", "sc-taxifare-dev"):
        assert name in text
    for key in ("infra_service_connection", "readonly_service_connection", "service_connection"):
        assert f"`{key}`" in text


def test_the_private_network_part_says_where_the_agent_runs_and_which_rules() -> None:
    text = _own_text()
    for needle in ("Inside the VNet", "allowedIpRanges", "pypi.org", "conda.anaconda.org",
                   "files.pythonhosted.org", "amlregistry"):  # fmt: skip
        assert needle in text, needle


def test_the_end_of_the_guide_is_left_for_the_rehearsal_section() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    if OWN_PART_ENDS in text:
        assert text.rstrip().rfind("\n## ") == text.index(OWN_PART_ENDS) - 1


def test_the_guide_has_commands_to_check() -> None:
    assert len(_commands(_own_text())) >= 8


@pytest.mark.parametrize("line", _commands(_own_text()))
def test_every_guide_command_is_run_by_a_pipeline_or_a_test(line: str) -> None:
    scripts = _pipeline_scripts()
    if line.startswith("export "):
        # Setting the variables connect-to-workspace.yml exports for the later steps.
        names = re.findall(r"\b([A-Z_]+)=", line)
        assert names and set(names) <= _pipeline_variables(scripts), line
        return
    if _run_by_a_pipeline(line, scripts):
        return
    tests = [p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "tests").rglob("*.py"))]
    assert _run_by_a_test(line, tests), f"no pipeline or test runs: {line}"


def test_the_matcher_refuses_a_command_nobody_runs() -> None:
    scripts = _pipeline_scripts()
    assert not _run_by_a_pipeline("az pipelines create --name x --yaml-path y", scripts)
    assert not _run_by_a_pipeline("python -m mlops release check --env stage --bogus", scripts)
    assert _run_by_a_pipeline("python -m mlops release check --env stage --azure", scripts)
