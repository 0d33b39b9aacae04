"""Imports go one way: ``core`` <- ``lake`` <- ``defs`` <- ``cli`` and ``definitions``
(docs/architecture.md, shared STYLE.md).

Read from the source with ``ast``, not by importing it: an import inside a function counts
as much as one at the top (``core/drift.py`` once reached up to ``lake.catalog`` from inside
a function, to dodge the import cycle), and nothing runs.

- ``core`` imports the standard library, ``core`` and the numerical packages of
  :data:`CORE_THIRD_PARTY` only: no other first-party module, no Dagster, Delta Lake, DuckDB
  or any other I/O.
- ``lake`` imports ``core`` and ``lake`` of the first-party modules (not ``defs``,
  ``sources``, ``cli``, ``definitions``, nor ``config``, ``report`` and the others above it).
- ``defs`` does not import ``build``, ``cli`` or ``definitions``, which are built from it.
- Nothing imports ``definitions``, the code location: importing it builds the definitions of
  ``config/`` (``$LAKEHOUSE_CONFIG``); the CLI builds its own from ``--config`` (``build``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.conftest import REPO

# what core computes with; a new one is a decision to make here, not an accident
CORE_THIRD_PARTY = frozenset(
    {
        "arch",
        "exchange_calendars",
        "numpy",
        "pandas",
        "pmdarima",
        "polars",
        "scipy",
        "sklearn",
        "statsmodels",
        "threadpoolctl",
        "vaderSentiment",
    }
)
# the only first-party layers these may import
MAY_IMPORT = {"core": {"core"}, "lake": {"core", "lake"}}
ABOVE_DEFS = {"build", "cli", "definitions"}


def imported(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every name ``source`` (the text of ``module``) imports, absolute, with its line.

    ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a.b``, whether ``b`` is a module
    or a name defined in ``a``; relative imports are resolved against the module's package.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            base += node.module.split(".") if node.module else []
            names += [(node.lineno, ".".join([*base, alias.name])) for alias in node.names]
    return names


def violation(package: str, layer: str, target: str) -> str | None:
    """Why a module of ``layer`` may not import ``target``; None when it may."""
    parts = target.split(".")
    if parts[0] != package:  # third party or standard library
        if layer != "core" or parts[0] in sys.stdlib_module_names or parts[0] in CORE_THIRD_PARTY:
            return None
        return f"core imports only the standard library and {', '.join(sorted(CORE_THIRD_PARTY))}"
    target_layer = parts[1] if len(parts) > 1 else ""
    if layer in MAY_IMPORT and target_layer not in MAY_IMPORT[layer]:
        allowed = " and ".join(f"{package}.{name}" for name in sorted(MAY_IMPORT[layer]))
        return f"{layer} imports only {allowed} of {package}"
    if layer == "defs" and target_layer in ABOVE_DEFS:
        return f"defs does not import {package}.{target_layer}, which is built from it"
    if target_layer == "definitions":
        return f"nothing imports {package}.definitions, the code location (it builds the definitions of config/)"
    return None


def violations(root: Path) -> list[str]:
    """``<module>:<line> imports <name>: <why>`` for every import against the layering in the
    package at ``root`` (its folder; the package's name is the folder's)."""
    package = root.name
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        is_package = relative.name == "__init__"
        module = ".".join(relative.parent.parts if is_package else relative.parts)
        layer = module.split(".")[1] if "." in module else ""
        for line, name in imported(path.read_text(), module, is_package):
            if why := violation(package, layer, name):
                found.append(f"{module}:{line} imports {name}: {why}")
    return found


def test_imports_go_one_way() -> None:
    assert violations(REPO / "lakehouse_assets") == []


def test_core_uses_every_package_it_is_allowed() -> None:
    """The allow-list is what core uses: a package it stops using leaves the list."""
    root = REPO / "lakehouse_assets"
    used = {
        name.split(".")[0]
        for path in (root / "core").rglob("*.py")
        for _, name in imported(path.read_text(), "lakehouse_assets.core." + path.stem, False)
    }
    assert used >= CORE_THIRD_PARTY


def test_a_planted_upward_import_is_named_with_its_module_and_line(tmp_path: Path) -> None:
    files = {
        "__init__.py": "",
        "cli.py": "from lakehouse_assets.defs import common\nfrom lakehouse_assets.definitions import defs\n",
        "core/__init__.py": "",
        "core/book.py": "import numpy as np\nfrom . import options\nfrom .options import black_scholes\n",
        "core/options.py": "def black_scholes():\n    from lakehouse_assets.lake.catalog import TABLES\n",
        "core/io.py": "import duckdb\nfrom lakehouse_assets import report\nimport requests\n",
        "lake/__init__.py": "",
        "lake/catalog.py": "from lakehouse_assets.core import book\nfrom ..defs.common import finish\n",
        "lake/delta.py": "import deltalake\nfrom lakehouse_assets.config import Config\n",
        "defs/__init__.py": "from lakehouse_assets import cli\n",
        "defs/common.py": "import dagster\nfrom lakehouse_assets.lake.delta import Lake\nfrom lakehouse_assets import report\n",
    }
    root = tmp_path / "lakehouse_assets"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    core = "core imports only the standard library and " + ", ".join(sorted(CORE_THIRD_PARTY))
    assert violations(root) == [
        "lakehouse_assets.cli:2 imports lakehouse_assets.definitions.defs: nothing imports "
        "lakehouse_assets.definitions, the code location (it builds the definitions of config/)",
        f"lakehouse_assets.core.io:1 imports duckdb: {core}",
        "lakehouse_assets.core.io:2 imports lakehouse_assets.report: core imports only lakehouse_assets.core of "
        "lakehouse_assets",
        f"lakehouse_assets.core.io:3 imports requests: {core}",
        "lakehouse_assets.core.options:2 imports lakehouse_assets.lake.catalog.TABLES: core imports only "
        "lakehouse_assets.core of lakehouse_assets",
        "lakehouse_assets.defs:1 imports lakehouse_assets.cli: defs does not import lakehouse_assets.cli, which is "
        "built from it",
        "lakehouse_assets.lake.catalog:2 imports lakehouse_assets.defs.common.finish: lake imports only "
        "lakehouse_assets.core and lakehouse_assets.lake of lakehouse_assets",
        "lakehouse_assets.lake.delta:2 imports lakehouse_assets.config.Config: lake imports only "
        "lakehouse_assets.core and lakehouse_assets.lake of lakehouse_assets",
    ]
