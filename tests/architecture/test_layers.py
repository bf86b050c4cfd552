"""The layers of docs/architecture.md: dependencies point one way, and nothing ships for tests only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("catalogue", "stack", "dashboards", "backend_metrics")

# package -> top-level modules it must never import
FORBIDDEN = {
    "catalogue": {"stack", "dashboards", "pulumi", "pulumi_docker", "pulumi_random", "grafanalib", "tests"},
    "stack": {"dashboards", "grafanalib", "tests"},
    "dashboards": {"stack", "pulumi", "pulumi_docker", "pulumi_random", "tests"},
    "backend_metrics": {"catalogue", "stack", "dashboards", "pulumi", "grafanalib", "tests"},
}


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in this file names (absolute imports only)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package):
    problems = []
    for path in package_files(package):
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    assert problems == []


def test_the_checker_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from dashboards import render_dashboards\nimport pulumi_docker as docker\n")
    assert imported_modules(bad) == {"dashboards", "pulumi_docker"}


def test_every_product_module_is_used_by_the_product():
    """No module of the product packages is imported only by tests (test-only code lives in tests/support)."""
    product_files = [path for package in PRODUCT for path in package_files(package)]
    entry_points = {ROOT / "__main__.py", *(p for p in product_files if p.name in ("__init__.py", "__main__.py"))}
    # backend_metrics is a library: the modules its docstring offers to applications are entry points.
    import re

    import backend_metrics

    public = set(re.findall(r"`backend_metrics\.(\w+)", backend_metrics.__doc__ or ""))
    assert public, "backend_metrics' docstring names no public module"
    entry_points |= {ROOT / "backend_metrics" / f"{name}.py" for name in public}
    imported_by_product = set()
    for path in [ROOT / "__main__.py", *product_files]:
        for module in imported_modules(path):
            imported_by_product.add(module)
        # relative imports: `from .x import y` and `from . import x`
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                package = path.parent.relative_to(ROOT).as_posix().replace("/", ".")
                if node.module:
                    imported_by_product.add(f"{package}.{node.module}")
                else:
                    imported_by_product.update(f"{package}.{alias.name}" for alias in node.names)
    unused = []
    for path in product_files:
        if path in entry_points:
            continue
        dotted = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        package, _, name = dotted.rpartition(".")
        dynamic = package == "dashboards"  # dashboard modules are imported by name from Service.dashboard
        if dotted in imported_by_product or any(m.startswith(dotted + ".") for m in imported_by_product):
            continue
        if dynamic:
            import catalogue

            if name in {s.dashboard for s in catalogue.SERVICES}:
                continue
        # `from package import name` where name is a module
        if any(m == package for m in imported_by_product) and _names_imported_from(package, product_files) & {name}:
            continue
        unused.append(dotted)
    assert unused == []


def _names_imported_from(package: str, files: list[Path]) -> set[str]:
    names = set()
    for path in [ROOT / "__main__.py", *files]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == package:
                names.update(alias.name for alias in node.names)
    return names
