"""Show-then-create assets, derived names within Azure's limits, and the Azure CLI check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from mlops.azure import tooling
from mlops.azure.assets import FINGERPRINT_TAG, ensure_asset, read_spec
from mlops.azure.names import RULES, render
from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT


class FakeOps:
    def __init__(self, existing: SimpleNamespace | None) -> None:
        self.existing = existing
        self.created: list[Any] = []

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        if self.existing is None:
            raise ResourceNotFoundError("not found")
        return self.existing

    def create_or_update(self, entity: Any) -> SimpleNamespace:
        self.created.append(entity)
        return SimpleNamespace(version="7")


def _data_spec(tmp_path: Path, version: str | None = None) -> Path:
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "green_1.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    lines = [
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json",
        "type: uri_folder",
        "name: taxi-fare-raw",
        "path: sample",
    ]
    if version:
        lines.append(f"version: '{version}'")
    spec = tmp_path / "data.yml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def _entity(spec: Any) -> SimpleNamespace:
    return SimpleNamespace(tags={}, spec=spec)


def test_asset_is_created_once_then_left_alone(tmp_path: Path) -> None:
    spec = read_spec(_data_spec(tmp_path))
    assert spec.kind == "data" and spec.name == "taxi-fare-raw" and spec.version is None
    ops = FakeOps(None)
    client = SimpleNamespace(data=ops)
    assert ensure_asset(client, spec, load_entity=_entity) == "7"
    assert ops.created[0].tags == {FINGERPRINT_TAG: spec.fingerprint}
    ops.existing = SimpleNamespace(version="7", tags={FINGERPRINT_TAG: spec.fingerprint})
    assert ensure_asset(client, spec, load_entity=_entity) == "7"
    assert len(ops.created) == 1  # the re-run converged


def test_changed_content_gets_a_new_version(tmp_path: Path) -> None:
    path = _data_spec(tmp_path)
    before = read_spec(path).fingerprint
    (tmp_path / "sample" / "green_1.csv").write_text("a,b\n1,3\n", encoding="utf-8")
    after = read_spec(path)
    assert after.fingerprint != before
    ops = FakeOps(SimpleNamespace(version="7", tags={FINGERPRINT_TAG: before}))
    ensure_asset(SimpleNamespace(data=ops), after, load_entity=_entity)
    assert len(ops.created) == 1


def test_pinned_version_that_exists_is_not_recreated(tmp_path: Path) -> None:
    spec = read_spec(_data_spec(tmp_path, version="3"))
    ops = FakeOps(SimpleNamespace(version="3", tags={}))
    assert ensure_asset(SimpleNamespace(data=ops), spec, load_entity=_entity) == "3"
    assert ops.created == []


def test_bad_specs_are_named(tmp_path: Path) -> None:
    spec = tmp_path / "env.yml"
    spec.write_text("name: x\n", encoding="utf-8")
    with pytest.raises(MlopsError, match="cannot tell the asset kind"):
        read_spec(spec)
    spec.write_text("$schema: https://x/data.schema.json\npath: nowhere\n", encoding="utf-8")
    with pytest.raises(MlopsError, match="key 'name' is missing"):
        read_spec(spec)
    spec.write_text("$schema: https://x/data.schema.json\nname: d\npath: gone\n", encoding="utf-8")
    with pytest.raises(MlopsError, match="does not exist"):
        read_spec(spec)


def test_repository_specs_are_readable() -> None:
    env = read_spec(REPO_ROOT / "mlops/azureml/train/train-env.yml")
    assert env.kind == "environment" and env.name == "taxi-fare-train-env"
    assert read_spec(REPO_ROOT / "mlops/azureml/train/data.yml").name == "taxi-fare-raw"


@pytest.mark.parametrize("env", ["dev", "stage", "prod"])
def test_derived_names_fit_azure_limits(env: str) -> None:
    rendered = render(env)
    assert rendered.problems() == []
    names = rendered.names
    assert names["resource_group"] == f"rg-taxifare-0001{env}"
    assert names["aml_workspace"] == f"mlw-taxifare-0001{env}"
    assert names["online_endpoint"] == f"ep-taxifare-0001{env}"
    assert names["aml_registry"] == "mlr-taxifare-0001"
    assert names["dev_workspace"] == "mlw-taxifare-0001dev"
    assert set(RULES) <= set(names)


def test_a_namespace_that_breaks_a_limit_is_reported(tmp_path: Path) -> None:
    for name in ("config-infra-dev.yml",):
        text = (REPO_ROOT / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("taxifare", "taxifareverylong"), encoding="utf-8")
    names_file = tmp_path / "names.yml"
    shutil.copy(REPO_ROOT / "mlops/devops-pipelines/variables/names.yml", names_file)
    problems = render("dev", root=tmp_path, names_file=names_file).problems()
    assert any("storage_account = 'sttaxifareverylong0001dev'" in p for p in problems)
    assert any("key_vault" in p for p in problems)


def test_an_undefined_macro_is_named(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "config-infra-dev.yml", tmp_path / "config-infra-dev.yml")
    names_file = tmp_path / "names.yml"
    names_file.write_text("variables:\n  resource_group: rg-$(nope)\n", encoding="utf-8")
    with pytest.raises(MlopsError, match=r"'resource_group' uses \$\(nope\)"):
        render("dev", root=tmp_path, names_file=names_file)


def _az(version: str, extensions: dict[str, str]) -> Any:
    return lambda _args: json.dumps({"azure-cli": version, "extensions": extensions})


def test_cli_check_accepts_the_pinned_setup() -> None:
    ok = _az("2.70.0", {"ml": tooling.ML_EXTENSION})
    assert tooling.verify_cli(ml_version=tooling.ML_EXTENSION, runner=ok)["azure-cli"] == "2.70.0"


@pytest.mark.parametrize(
    "version,extensions,message",
    [
        ("2.50.1", {}, "older than the required 2.67.0"),
        ("2.70.0", {}, "'ml' extension is not installed"),
        ("2.70.0", {"ml": "2.20.0"}, "the 'ml' extension is 2.20.0, pinned"),
        ("2.70.0", {"ml": tooling.ML_EXTENSION, "azure-cli-ml": "1.0"}, "retired v1 extension"),
    ],
)
def test_cli_check_refuses_unfit_agents(
    version: str, extensions: dict[str, str], message: str
) -> None:
    with pytest.raises(MlopsError, match=message):
        tooling.verify_cli(ml_version=tooling.ML_EXTENSION, runner=_az(version, extensions))


def test_cli_output_that_is_not_json_is_an_error() -> None:
    with pytest.raises(MlopsError, match="not JSON"):
        tooling.verify_cli(runner=lambda _args: "WARNING: upgrade")
