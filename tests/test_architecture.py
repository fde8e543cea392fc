"""The architecture's rules, checked on the source: imports run downward only, the low layers stay light,
every third-party import is declared, and no module grows past what a reader takes in."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tenure"

LAYERS = {
    "tenure.config": 0,
    "tenure.config_problems": 0,
    "tenure.config_types": 0,
    "tenure.config_channels": 0,
    "tenure.config_tracing": 0,
    "tenure.config_tools": 0,
    "tenure.html_text": 0,
    "tenure.atomic": 0,
    "tenure.secrets": 0,
    "tenure.model_ids": 0,
    "tenure.resources": 0,
    "tenure.models": 1,
    "tenure.store": 1,
    "tenure.control": 2,
    "tenure.memory": 2,
    "tenure.agents": 2,
    "tenure.doctor": 2,
    "tenure.runtime": 3,
    "tenure.analysis": 3,
    "tenure.tasks": 3,
    "tenure.flows": 4,
    "tenure.deployments": 4,
    "tenure.channels": 4,
    "tenure.cli": 5,
}
"""cli → flows/deployments/channels → tasks/runtime → agents/control/memory → models/store →
config/secrets: imports go down (or sideways within a layer), never up."""
DOMAIN = ("tenure.control", "tenure.memory", "tenure.agents")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import sits (functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def layer(module: str) -> int | None:
    owner = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    return LAYERS[owner] if owner else None


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "data" not in p.relative_to(PACKAGE).parts)


def test_every_module_has_a_layer():
    assert [module_name(p) for p in SOURCES if layer(module_name(p)) is None] in ([], ["tenure"])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_run_downward_only(path: Path):
    me = module_name(path)
    mine = layer(me)
    upward = sorted(
        m
        for m in imports(path)
        if m.startswith("tenure.") and (layer(m) or 0) > (mine or 0) and me != "tenure"
    )
    assert upward == [], f"{me} (layer {mine}) imports from higher layers: {upward}"


def test_store_imports_no_domain_or_model_code_and_the_domain_no_prefect():
    for path in SOURCES:
        me, found = module_name(path), imports(path)
        if me.startswith("tenure.store"):
            assert not [m for m in found if m.startswith((*DOMAIN, "tenure.models"))], me
        if me.startswith(DOMAIN):
            assert not [m for m in found if m == "prefect" or m.startswith("prefect.")], me
            assert "pydantic_ai.durable_exec.prefect" not in found, me


def test_reading_the_config_loads_no_model_or_workflow_library():
    probe = (
        "import sys, tenure.config, tenure.secrets, tenure.model_ids; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pydantic_ai', 'opentelemetry', 'prefect', 'lancedb', 'duckdb', 'torch', 'anthropic', 'openai'}))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert run.stdout.strip() == "[]"


def test_the_cli_starts_without_loading_the_heavy_libraries():
    """``tenure --help`` and every command's parsing load no model, workflow or database library: each
    command imports what it uses when it runs (a cold ``tenure --help`` took 2.8 s when they loaded)."""
    probe = (
        "import sys, tenure.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic_ai', 'prefect', 'lancedb', "
        "'duckdb', 'pyarrow', 'torch', 'sentence_transformers', 'llama_cpp'}))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert run.stdout.strip() == "[]"


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]
    return {re.split(r"[\[=<>!~; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _third_party(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level third-party import name → the files importing it."""
    stdlib = set(sys.stdlib_module_names)
    found: dict[str, set[str]] = {}
    for path in paths:
        for module in imports(path):
            top = module.split(".")[0]
            if top not in stdlib and top not in ("tenure", "tests", "bench", "__future__"):
                found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


ANALYSIS = PACKAGE / "analysis"
"""The one package that may import the optional ``analysis`` extra (matplotlib, Jupyter)."""


def _python_files(folder: str) -> list[Path]:
    paths = sorted((ROOT / folder).rglob("*.py"))
    return [p for p in paths if not p.is_relative_to(ANALYSIS)] if folder == "tenure" else paths


@pytest.mark.parametrize(
    ("folder", "extras"),
    [
        ("tenure", ()),
        ("tenure/analysis", ("analysis",)),
        ("tests", ("dev", "analysis")),
        ("bench", ("dev",)),
    ],
    ids=["tenure", "tenure.analysis", "tests", "bench"],
)
def test_every_third_party_import_is_declared(folder: str, extras: tuple[str, ...]):
    """The core imports only the core dependencies; the optional ``analysis`` extra only ``tenure.analysis``
    (and the tests)."""
    declared = _declared(*extras)
    owners = packages_distributions()
    undeclared = {
        name: sorted(files)
        for name, files in _third_party(_python_files(folder)).items()
        if not {d.lower().replace("_", "-") for d in owners.get(name, [name])} & declared
    }
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"


def test_no_module_is_longer_than_a_reader_takes_in():
    long = {module_name(p): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}


def _is_module(name: str) -> bool:
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _patches(path: Path) -> list[str]:
    """``monkeypatch.setattr(...)`` calls, and assignments to an attribute of a tenure module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tenure")
        for alias in node.names
        if _is_module(f"{node.module}.{alias.name}")
    } | {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("tenure")
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setattr"
        ):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)[:80]}")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                owner = target.value if isinstance(target, ast.Attribute) else None
                while isinstance(owner, ast.Attribute):
                    owner = owner.value
                if isinstance(owner, ast.Name) and owner.id in modules:
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(target)} = …")
    return found


def test_no_test_or_bench_patches_a_module_attribute():
    """Tests and benches use the seams (``run_turn(model=…)``, ``vault.precision``, fixtures), never
    replace a function inside a module."""
    paths = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
    assert [p for path in paths for p in _patches(path)] == []
