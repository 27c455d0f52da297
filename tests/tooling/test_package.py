"""The runtime package's boundaries: no import cycles, no use of another module's private names,
no Airflow import at module level (the DAG parses fast), no dev-only code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include" / "vehicle_sales"
# the hook subclasses Airflow's BaseHook: it is imported by task bodies and the providers manager only
AIRFLOW_AT_IMPORT = {"vehicle_sales.contact.arcgis.hook"}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target, names in imports_of(path):
            if not target.startswith("vehicle_sales"):
                continue
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in mods and candidate != name:
                    edges[name].add(candidate)
                    break
    return edges


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    # a package's __init__ importing nothing keeps parents out of the cycles
    assert not cycles, cycles


def test_no_module_uses_another_module_s_private_names():
    mods = modules()
    offences = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vehicle_sales"):
                for a in node.names:
                    if a.name.startswith("_"):
                        offences.append(f"{name}: from {node.module} import {a.name}")
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("vehicle_sales"):
                        aliases[a.asname or a.name] = a.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and aliases.get(node.value.id) in mods
            ):
                offences.append(f"{name}: {node.value.id}.{node.attr}")
    assert not offences, offences


def test_the_package_imports_no_airflow_and_no_heavy_library_at_module_level():
    names = sorted(set(modules()) - AIRFLOW_AT_IMPORT)
    code = (
        "import importlib, sys\n"
        f"for m in {names!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in ('airflow', 'pandas', 'matplotlib', 'requests') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{ROOT / 'include'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    # pandas/numpy may come with the segmentation modules; Airflow and the HTTP and chart libraries not
    assert "airflow" not in out.stdout and "matplotlib" not in out.stdout and "requests" not in out.stdout, (
        out.stdout
    )


def test_the_runtime_package_does_not_import_dev_tools():
    for name, path in modules().items():
        assert not any(t.startswith(("devtools", "tests", "support")) for t, _ in imports_of(path)), name


def test_the_dag_file_imports_only_the_task_module_of_the_package():
    dag = ROOT / "dags" / "vehicle_sales_rfm.py"
    ours = {t for t, names in imports_of(dag) if t.startswith("vehicle_sales")}
    assert ours == {"vehicle_sales"}
    assert [names for t, names in imports_of(dag) if t == "vehicle_sales"] == [["tasks"]]
