#!/usr/bin/env python3
"""Keep the Inputs/Outputs tables of the Terraform READMEs in step with variables.tf and
outputs.tf (what terraform-docs does, for the plain layout used here).

Each README holds the tables between `<!-- BEGIN_TF_TABLES -->` and `<!-- END_TF_TABLES -->`.
  readme_tables.py --write   regenerate them (terraform/README.md and modules/*/README.md)
  readme_tables.py --check   exit 1 naming every README whose tables are stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BEGIN = "<!-- BEGIN_TF_TABLES -->"
END = "<!-- END_TF_TABLES -->"
PIPE = "\\|"


def blocks(path: Path, kind: str) -> list[tuple[str, str, str, str | None]]:
    """(name, description, type, default) of each top-level `kind "name" {}` block."""
    text = path.read_text()
    found = []
    for match in re.finditer(r'^%s "([^"]+)" \{\n(.*?)^\}' % kind, text, re.S | re.M):
        name, body = match.group(1), match.group(2)
        description = re.search(r'^  description = "((?:[^"\\]|\\.)*)"', body, re.M)
        type_ = re.search(r"^  type\s+= (.+)$", body, re.M)
        default = re.search(r"^  default\s+= (.+)$", body, re.M)
        found.append(
            (
                name,
                description.group(1).replace('\\"', '"') if description else "",
                type_.group(1).strip() if type_ else "",
                default.group(1).strip() if default else None,
            )
        )
    return found


def tables(module: Path) -> str:
    lines = ["## Inputs", "", "| Name | Type | Default | Description |", "|---|---|---|---|"]
    for name, description, type_, default in blocks(module / "variables.tf", "variable"):
        shown = f"`{default}`" if default is not None else "required"
        lines.append(f"| `{name}` | `{type_}` | {shown} | {description.replace('|', PIPE)} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, description, _, _ in blocks(module / "outputs.tf", "output"):
        lines.append(f"| `{name}` | {description.replace('|', PIPE)} |")
    return "\n".join(lines) + "\n"


def render(readme: Path) -> str:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: missing {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables(readme.parent)}{END}{tail}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)

    root = Path(__file__).resolve().parent.parent
    readmes = [root / "README.md", *sorted((root / "modules").glob("*/README.md"))]
    modules = sorted(p for p in (root / "modules").iterdir() if p.is_dir())
    stale = [str(m / "README.md") for m in modules if not (m / "README.md").exists()]
    for readme in readmes:
        wanted = render(readme)
        if readme.read_text() != wanted:
            if args.write:
                readme.write_text(wanted)
                print(f"updated {readme.relative_to(root.parent)}")
            else:
                stale.append(str(readme.relative_to(root.parent)))
    if args.check and stale:
        print("README tables out of date (run terraform/tests/readme_tables.py --write):")
        for path in stale:
            print(f"  {path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
