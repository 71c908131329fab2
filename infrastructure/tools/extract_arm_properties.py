"""Extract the writable property tree of each ARM resource type@apiVersion the stacks deploy.

Writes the committed fixture tests/infrastructure/fixtures/arm_properties.json that
tests/infrastructure/test_schema_facts.py checks every Bicep resource body (and every azapi
``body``) against: a property the API version does not define is ignored by ARM with at most a
warning, so a setting the stacks rely on would silently not exist. The facts come from the
Bicep type definitions generated from azure-rest-api-specs (Azure/bicep-types-az,
``generated/<provider>/<namespace>/<apiVersion>/types.json``), read with ``git show`` from a bare
clone:

    python infrastructure/tools/extract_arm_properties.py \\
      --bicep-types /work/.mirror/Azure+bicep-types-az/repo \\
      --also Microsoft.ContainerRegistry/registries@2023-07-01 \\
      --output tests/infrastructure/fixtures/arm_properties.json

(registries@2023-07-01 is no longer used: it is kept as the fact behind issue 14 item 9, the
anonymousPullEnabled that API version does not have.)

Each type maps to a tree: property name -> subtree (an object's properties, an array's item,
the union of a union's or a discriminated object's members) or ``null`` for a scalar;
``"*"`` stands for any key (dictionaries such as ``tags``). Read-only properties are left out,
so writing one fails the check too. Recursion stops where a type repeats (``"..."``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infrastructure"
READ_ONLY = 2
_BICEP_TYPE = re.compile(r"^resource\s+\w+\s+'([\w./]+)@([\w-]+)'", re.M)
_AZAPI_TYPE = re.compile(r'^\s*type\s*=\s*"([\w./]+)@([\w-]+)"', re.M)


def used_types(infra: Path = INFRA) -> set[str]:
    """type@apiVersion of every Bicep resource and every azapi resource in the stacks."""
    found = set()
    for path in sorted((infra / "bicep").rglob("*.bicep")):
        found |= {f"{t}@{v}" for t, v in _BICEP_TYPE.findall(path.read_text())}
    for path in sorted((infra / "terraform").rglob("*.tf")):
        found |= {f"{t}@{v}" for t, v in _AZAPI_TYPE.findall(path.read_text())}
    return found


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


class TypeFile:
    """One types.json: resolves '#/<n>' references into property trees."""

    def __init__(self, types: list[dict[str, Any]]) -> None:
        self.types = types

    def resource(self, name: str) -> dict[str, Any] | None:
        for entry in self.types:
            if entry.get("$type") == "ResourceType" and entry["name"].lower() == name.lower():
                return self.tree(entry["body"], ())
        return None

    def _at(self, ref: dict[str, str]) -> tuple[int, dict[str, Any]]:
        index = int(ref["$ref"].split("/")[-1])
        return index, self.types[index]

    def tree(self, ref: dict[str, str], seen: tuple[int, ...]) -> Any:
        index, node = self._at(ref)
        if index in seen:
            return "..."
        seen = (*seen, index)
        kind = node["$type"]
        if kind == "ObjectType":
            out = self._properties(node.get("properties", {}), seen)
            if "additionalProperties" in node:
                out["*"] = self.tree(node["additionalProperties"], seen)
            return out
        if kind == "DiscriminatedObjectType":
            out = self._properties(node.get("baseProperties", {}), seen)
            out[node["discriminator"]] = None
            for member in node["elements"].values():
                merged = self.tree(member, seen)
                if isinstance(merged, dict):
                    _merge(out, merged)
            return out
        if kind == "ArrayType":
            return self.tree(node["itemType"], seen)
        if kind == "UnionType":
            out: dict[str, Any] = {}
            for member in node["elements"]:
                sub = self.tree(member, seen)
                if isinstance(sub, dict):
                    _merge(out, sub)
            return out or None
        return None

    def _properties(self, props: dict[str, Any], seen: tuple[int, ...]) -> dict[str, Any]:
        return {
            name: self.tree(prop["type"], seen)
            for name, prop in props.items()
            if not prop.get("flags", 0) & READ_ONLY
        }


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            _merge(into[key], value)
        elif key not in into or into[key] is None:
            into[key] = value


def extract(bicep_types: Path, also: list[str]) -> dict[str, Any]:
    commit = _git(bicep_types, "rev-parse", "HEAD").strip()
    listing = _git(bicep_types, "ls-tree", "-r", "--name-only", "HEAD", "generated").splitlines()
    out: dict[str, Any] = {
        "_origin": {
            "generated_by": "infrastructure/tools/extract_arm_properties.py",
            "repository": "https://github.com/Azure/bicep-types-az",
            "commit": commit,
            "note": "name -> subtree | null (scalar); '*' = any key; '...' = recursion stopped; "
            "read-only properties are omitted.",
        },
        "types": {},
    }
    for type_version in sorted(used_types() | set(also)):
        rtype, version = type_version.rsplit("@", 1)
        namespace = rtype.split("/")[0].lower()
        suffix = f"/{namespace}/{version}/types.json"
        candidates = [p for p in listing if p.endswith(suffix)]
        tree, origin = None, None
        for path in candidates:
            types = json.loads(_git(bicep_types, "show", f"HEAD:{path}"))
            tree = TypeFile(types).resource(type_version)
            if tree is not None:
                origin = path
                break
        if tree is None:
            raise SystemExit(f"{type_version}: not found in bicep-types-az {commit[:10]}")
        out["types"][type_version] = {"origin": origin, "properties": tree}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bicep-types", type=Path, required=True, help="bare git clone")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="TYPE@VERSION",
        help="record a type the stacks no longer use (for negative tests)",
    )
    args = parser.parse_args(argv)
    facts = extract(args.bicep_types, args.also)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(facts, indent=None, sort_keys=True, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
