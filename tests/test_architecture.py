"""The layers hold (docs/architecture.md): the import contracts in pyproject.toml pass, each catches the import it
forbids when one is planted in a copy of the project, and no workflow, client or API module names an activity,
update, query or workflow by a string."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT

LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES: list[str] = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "root_packages"]


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-logo", "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}, timeout=120)


def copy_of_the_project(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "static", "templates"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_are_kept():
    result = lint(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_an_engine_imported_into_the_decision_core_breaks_its_contract(tmp_path):
    root = copy_of_the_project(tmp_path)
    state = root / "core" / "claim" / "state.py"
    state.write_text(state.read_text() + "\nfrom temporalio import workflow  # planted\n")
    result = lint(root)
    assert result.returncode != 0, result.stdout
    assert "core.claim.state -> temporalio" in result.stdout, result.stdout


def test_a_workflow_module_imported_into_the_decision_core_breaks_its_contract(tmp_path):
    root = copy_of_the_project(tmp_path)
    rules = root / "core" / "rules" / "payout.py"
    rules.write_text(rules.read_text() + "\nimport workflows.claim_state  # planted\n")
    result = lint(root)
    assert result.returncode != 0 and "core.rules.payout -> workflows.claim_state" in result.stdout, result.stdout


@pytest.mark.parametrize(("file", "planted", "caught"), [
    # a workflow that reaches the database itself instead of through an activity
    ("workflows/claim_state.py", "import sqlalchemy", "workflows.claim_state -> sqlalchemy"),
    ("workflows/decisions.py", "import db.engine", "workflows.decisions -> db.engine"),
    # infrastructure that reaches up into a workflow or the client
    ("db/outbox.py", "import client.claims", "db.outbox -> client.claims"),
    ("letters/render.py", "import workflows.claim", "letters.render -> workflows.claim"),
    # one edge that reaches into another
    ("events/relay.py", "import api.app", "events.relay -> api.app"),
    # two files of a package that import each other
    ("reporting/figures.py", "import reporting.reports", ".figures -> .reports"),
    ("workflows/clocks.py", "import workflows.claim", "No cycles are allowed in workflows"),
])
def test_a_planted_forbidden_import_breaks_a_contract(tmp_path, file, planted, caught):
    root = copy_of_the_project(tmp_path)
    target = root / file
    target.write_text(target.read_text() + f"\n{planted}  # planted\n")
    result = lint(root)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and caught in result.stdout.replace("\n", " "), result.stdout


STRING_CALLS = re.compile(r"""(execute_activity|execute_local_activity|start_activity|start_local_activity|
                              execute_update|start_update|\.query|\.signal|start_workflow|execute_workflow|
                              \.activity)\(\s*["']""", re.VERBOSE)


def test_no_workflow_client_or_api_module_calls_by_a_string_name():
    """Activities, updates, queries and workflows are named by their methods, so a rename is a type error."""
    found = []
    for package in ("workflows", "client", "api"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if STRING_CALLS.search(line):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert found == [], found
    assert STRING_CALLS.search('await handle.execute_update("approve", payload)'), "the pattern finds one"
    assert STRING_CALLS.search("await workflow.execute_activity('pay', req)"), "the pattern finds one"


def imported_by(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_benchmarks_the_demo_and_the_product_import_no_test_module():
    """What the tests and the benchmarks share is in testkit/; the product imports neither."""
    wrong = []
    for folder in ["bench", *PACKAGES]:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            forbidden = ("tests",) if folder == "bench" else ("tests", "testkit")
            for module in imported_by(path):
                if module.split(".")[0] in forbidden:
                    wrong.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    for path in [PROJECT_ROOT / "worker.py", PROJECT_ROOT / "starter.py"]:
        wrong += [f"{path.name} imports {m}" for m in imported_by(path) if m.split(".")[0] in ("tests", "testkit")]
    assert wrong == [], wrong
    assert "testkit.claims" in imported_by(PROJECT_ROOT / "bench" / "engine_floor.py"), "the scan reads imports"


def test_no_class_stands_on_a_chain_of_more_than_two():
    """The claim is composed of parts (shell, clocks, decisions, reader), not stacked on base classes: every class the
    project defines has at most one project class under it."""
    import importlib
    import inspect
    import pkgutil

    classes, deep = 0, []
    for package in PACKAGES:
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if info.name.endswith("__main__"):  # running it starts a process
                continue
            module = importlib.import_module(info.name)
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__:
                    continue
                classes += 1
                chain = [c.__qualname__ for c in cls.__mro__ if c.__module__.split(".")[0] in PACKAGES]
                if len(chain) > 2:
                    deep.append(f"{info.name}.{name}: {' -> '.join(chain)}")
    assert classes > 200, classes  # the walk found the project's classes
    assert deep == [], deep
