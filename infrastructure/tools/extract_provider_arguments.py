"""Extract the argument names of Terraform resources and data sources from a provider's docs.

Writes the committed fixture tests/infrastructure/fixtures/provider_arguments.json that
tests/infrastructure/test_schema_facts.py checks every argument of the stacks against. The docs
are read with ``git show <tag>:<path>`` from bare clones of the provider repositories, so the
facts are those of the version pinned in the stacks' versions.tf, never of a newer one:

    python infrastructure/tools/extract_provider_arguments.py \\
      --azurerm /work/.mirror/hashicorp+terraform-provider-azurerm/repo --azurerm-tag v4.20.0 \\
      --azapi /work/.mirror/Azure+terraform-provider-azapi/repo --azapi-tag v2.2.0 \\
      --output tests/infrastructure/fixtures/provider_arguments.json

The resource and data source types are those the stacks under infrastructure/terraform use
(found by scanning the .tf files), so re-run it after adding a type. Two doc layouts exist:
azurerm's hand-written ``* `name` - ...`` lists under "## Argument(s) Reference" with one
"A `block` block supports the following:" section per nested block, and azapi's generated
"- `name` (Type)" lists with "### Nested Schema for `block`" sections.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infrastructure" / "terraform"

_BLOCK_HEADING = re.compile(r"^(?:An?|The|Each)\s+`([\w.]+)`\s+block\b", re.I)
_AZURERM_ARG = re.compile(r"^\*\s+`(\w+)`\s+-")
_AZAPI_ARG = re.compile(r"^-\s+`(\w+)`\s+\(")
_AZAPI_NESTED = re.compile(r"^###\s+Nested Schema for `([\w.]+)`")
_USE = re.compile(r'^\s*(resource|data)\s+"((?:azurerm|azapi)_\w+)"', re.M)


def used_types(root: Path = TERRAFORM) -> dict[str, set[str]]:
    """{'resource': {...}, 'data': {...}} of provider types the stacks declare."""
    found: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in sorted(root.rglob("*.tf")):
        for kind, name in _USE.findall(path.read_text()):
            found[kind].add(name)
    return found


def git_show(repo: Path, tag: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{tag}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def parse_azurerm(markdown: str) -> dict[str, list[str]]:
    """Section ('' = top level, else block name) -> argument names, from the argument reference."""
    sections: dict[str, set[str]] = {"": set()}
    current, inside = "", False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line.strip().lower() in ("## argument reference", "## arguments reference")
            current = ""
            continue
        if not inside:
            continue
        if (heading := _BLOCK_HEADING.match(line.strip())) is not None:
            current = heading.group(1).split(".")[-1]
            sections.setdefault(current, set())
        elif (arg := _AZURERM_ARG.match(line.strip())) is not None:
            sections[current].add(arg.group(1))
    return {name: sorted(args) for name, args in sections.items()}


def parse_azapi(markdown: str) -> dict[str, list[str]]:
    """The generated layout: '## Schema' lists, then '### Nested Schema for `x`' per block."""
    sections: dict[str, set[str]] = {"": set()}
    current, inside, read_only = "", False, False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Schema"
            continue
        if not inside:
            continue
        if (nested := _AZAPI_NESTED.match(line.strip())) is not None:
            current, read_only = nested.group(1).split(".")[-1], False
            sections.setdefault(current, set())
        elif line.startswith("### "):
            read_only = line.strip() == "### Read-Only"
        elif (arg := _AZAPI_ARG.match(line.strip())) is not None and not read_only:
            sections[current].add(arg.group(1))
    return {name: sorted(args) for name, args in sections.items()}


def extract(azurerm: Path, azurerm_tag: str, azapi: Path, azapi_tag: str) -> dict:
    types = used_types()
    out: dict = {
        "_origin": {
            "generated_by": "infrastructure/tools/extract_provider_arguments.py",
            "providers": {
                "azurerm": {
                    "repository": "https://github.com/hashicorp/terraform-provider-azurerm",
                    "tag": azurerm_tag,
                    "docs": "website/docs/{r,d}/<type without azurerm_>.html.markdown",
                },
                "azapi": {
                    "repository": "https://github.com/Azure/terraform-provider-azapi",
                    "tag": azapi_tag,
                    "docs": "docs/{resources,data-sources}/<type without azapi_>.md",
                },
            },
            "note": "'' is the top level of a resource; every other key is a nested block name.",
        },
        "resource": {},
        "data": {},
    }
    for kind in ("resource", "data"):
        for name in sorted(types[kind]):
            if name.startswith("azurerm_"):
                folder = "r" if kind == "resource" else "d"
                path = f"website/docs/{folder}/{name.removeprefix('azurerm_')}.html.markdown"
                markdown = git_show(azurerm, azurerm_tag, path)
                sections = parse_azurerm(markdown)
                if "no arguments available" in markdown.lower():
                    sections.setdefault("", [])
                    out[kind][name] = {"origin": f"{path} (no arguments)", "arguments": sections}
                origin = f"hashicorp/terraform-provider-azurerm@{azurerm_tag}:{path}"
            else:
                folder = "resources" if kind == "resource" else "data-sources"
                path = f"docs/{folder}/{name.removeprefix('azapi_')}.md"
                sections = parse_azapi(git_show(azapi, azapi_tag, path))
                origin = f"Azure/terraform-provider-azapi@{azapi_tag}:{path}"
            if name in out[kind]:
                out[kind][name]["origin"] = origin
                continue
            if not sections[""]:
                raise SystemExit(f"{origin}: no arguments found; has the doc layout changed?")
            out[kind][name] = {"origin": origin, "arguments": sections}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--azurerm", type=Path, required=True, help="bare git clone of azurerm")
    parser.add_argument("--azurerm-tag", required=True)
    parser.add_argument("--azapi", type=Path, required=True, help="bare git clone of azapi")
    parser.add_argument("--azapi-tag", required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    facts = extract(args.azurerm, args.azurerm_tag, args.azapi, args.azapi_tag)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
