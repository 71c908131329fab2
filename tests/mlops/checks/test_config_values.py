"""config-infra values: shapes, the file's own environment, shared namespace and postfix."""

from __future__ import annotations

from pathlib import Path

from mlops.checks.config_values import check


def write(root: Path, env: str, body: str) -> None:
    (root / f"config-infra-{env}.yml").write_text(f"variables:\n{body}", encoding="utf-8")


def test_matching_files_have_no_finding(tmp_path: Path) -> None:
    for env in ("dev", "prod"):
        write(tmp_path, env, f"  namespace: taxifare\n  postfix: '0001'\n  environment: {env}\n")
    assert check(tmp_path) == []


def test_environment_must_match_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, "dev", "  environment: dev\n")
    write(tmp_path, "prod", "  namespace: taxifare\n  environment: stage\n")
    [finding] = check(tmp_path)
    assert (finding.path, finding.line, finding.rule) == (
        "config-infra-prod.yml",
        3,
        "config-values",
    )
    assert finding.message == "environment 'stage' in the prod file"


def test_postfix_shape_and_the_odd_one_out(tmp_path: Path) -> None:
    write(tmp_path, "dev", "  postfix: '0001'\n")
    write(tmp_path, "stage", "  postfix: '0001'\n")
    write(tmp_path, "prod", "  postfix: '12'\n")
    findings = sorted(check(tmp_path))
    assert [(f.path, f.line) for f in findings] == [("config-infra-prod.yml", 2)] * 2
    assert findings[0].message.startswith("postfix '12' differs from config-infra-dev.yml: '0001'")
    assert findings[1].message == "postfix '12' must be 4 digits"


def test_list_form_variables_are_read_and_a_tie_blames_both(tmp_path: Path) -> None:
    write(tmp_path, "dev", "  - name: namespace\n    value: taxifare\n")
    write(tmp_path, "prod", "  - name: namespace\n    value: TaxiFare\n")
    findings = sorted(check(tmp_path))
    assert [(f.path, f.line) for f in findings] == [
        ("config-infra-dev.yml", 2),
        ("config-infra-prod.yml", 2),
        ("config-infra-prod.yml", 2),
    ]
    assert "differs from config-infra-prod.yml: 'TaxiFare'" in findings[0].message
    assert findings[2].message == "namespace 'TaxiFare' must be 3-8 lowercase letters or digits"
